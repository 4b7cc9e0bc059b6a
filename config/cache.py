"""Django's Redis cache behind a circuit breaker, so the request path never waits on a broken cache.

Why: the cache holds only rate-limit counters, whose callers already fail open when it is down
(``pulse.ratelimit``). But "down" used to mean "after the socket timeout": with Redis hung (SIGSTOP, a full
network buffer) each sign-in POST waited for two cache calls to time out, eight of them occupied every web
worker, and a check-in submit or ``/health/`` behind them waited 19 s. Now the first failure opens the
breaker: for ``OPEN_SECONDS`` every cache call of this process to that server fails at once, without
touching the network, and the failure is logged once per opening. Then one call is let through to try
again. The sockets also time out quickly (``REDIS_CACHE_TIMEOUT_MS``, 250 ms by default), so even that
first failure is short. The breaker's state is per server and per process, shared by every thread (Django
makes a cache object per thread).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

OPEN_SECONDS = 5.0


class CacheUnavailable(ConnectionError):
    """The breaker is open: the cache failed moments ago and is not being asked."""


_open_until: dict[str, float] = {}  # server -> monotonic time until which the breaker stays open
_lock = threading.Lock()


class CircuitBreakerRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._server = server

    def _guarded(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() < _open_until.get(self._server, 0.0):
            raise CacheUnavailable("the cache failed moments ago; not asking it again yet")
        try:
            return operation(*args, **kwargs)
        except Exception as error:
            with _lock:
                already_open = time.monotonic() < _open_until.get(self._server, 0.0)
                _open_until[self._server] = time.monotonic() + OPEN_SECONDS
            if not already_open:
                logger.warning(
                    "cache unavailable (%s): not asking it for %.0f s", type(error).__name__, OPEN_SECONDS
                )
            raise


def _breaking(name: str) -> Callable[..., Any]:
    def method(self: CircuitBreakerRedisCache, *args: Any, **kwargs: Any) -> Any:
        return self._guarded(getattr(super(CircuitBreakerRedisCache, self), name), *args, **kwargs)

    method.__name__ = name
    return method


# Every operation of Django's cache API that reaches Redis.
for _name in (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
):
    setattr(CircuitBreakerRedisCache, _name, _breaking(_name))
