"""Rate limits for signing in: counters in the Django cache (Redis in production).

Limits are named in ``settings.PULSE_RATE_LIMITS`` as ``"<count>/<seconds>"``, e.g. ``"10/900"``. Keys are
hashed before they reach the cache, so an email address never appears in Redis. Two kinds:

* **Requests** (``hit``: email links, tokens): at most ``count`` per key in each fixed window of
  ``seconds``.
* **Failed passwords** (``login_user`` per username, ``login_ip`` per client address; ``failures_*``):
  only failures count, never successful sign-ins. ``count`` failures within ``seconds`` are free; each
  further one locks the key for ``FAILURE_BACKOFF`` doubled per failure beyond the limit (30 s, 1 min,
  2 min, ...) up to ``seconds``. A success clears the username's failures (the address's stay: an attacker
  could otherwise clear them by signing in to an account of their own). So a guesser is slowed
  exponentially, while someone who mistyped waits half a minute; and the lock is on passwords only: the
  email-link limits are counted apart, so the rightful user can always sign in by link.

When the cache is down (Redis unreachable, timing out), ``hit`` lets the attempt through and logs a warning.
For a sign-in limiter the alternative, failing closed, would lock every user out for as long as Redis is
down, and a limiter must never turn into a 500. Failing open loses only the brute-force brake, which the
token's 256 bits and Django's password hashing make a minor loss for the duration of an outage.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

logger = logging.getLogger(__name__)

CACHE_PREFIX = "pulse:rl"


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, _, seconds = text.partition("/")
        rate = cls(int(count), int(seconds))
        if rate.limit < 1 or rate.seconds < 1:
            raise ValueError(f"rate {text!r}: both numbers must be positive")
        return rate


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


def rate_for(name: str) -> Rate:
    return Rate.parse(settings.PULSE_RATE_LIMITS[name])


def hit(name: str, key: str, *, now: float | None = None) -> Verdict:
    """Count one attempt of ``name`` (e.g. ``"link_email"``) for ``key`` and say whether it is allowed.

    Fixed windows: simple, one cache round trip in the common case, and the worst case (twice the limit
    across a window boundary) is still a brake on guessing.
    """
    rate = rate_for(name)
    moment = time.time() if now is None else now
    window = int(moment // rate.seconds)
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    cache_key = f"{CACHE_PREFIX}:{name}:{digest}:{window}"
    cache = caches[settings.PULSE_RATE_LIMIT_CACHE]
    try:
        # add() creates the counter with its expiry only if it is missing; incr() is atomic in Redis.
        cache.add(cache_key, 0, timeout=rate.seconds + 1)
        count = cache.incr(cache_key)
    except ValueError:
        # The key expired between add() and incr(): this attempt is the first of a new window.
        return Verdict(True, 0)
    except Exception as error:  # the cache is down: fail open, loudly (see the module docstring)
        logger.warning(
            "Rate limit %s not enforced: the cache is unavailable (%s)", name, type(error).__name__
        )
        return Verdict(True, 0)
    if count > rate.limit:
        return Verdict(False, max(1, int((window + 1) * rate.seconds - moment)))
    return Verdict(True, 0)


# --- failed passwords ----------------------------------------------------------------------------------

FAILURE_BACKOFF = 30  # seconds of the first lock once a key's free failures are used up


def _failure_keys(name: str, key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    return f"{CACHE_PREFIX}:fail:{name}:{digest}", f"{CACHE_PREFIX}:until:{name}:{digest}"


def _unavailable(name: str, error: Exception) -> None:
    logger.warning("Rate limit %s not enforced: the cache is unavailable (%s)", name, type(error).__name__)


def failures_blocked(checks: Iterable[tuple[str, str]], *, now: float | None = None) -> Verdict:
    """Whether any (limit name, key) is locked after too many failures. One cache round trip; counts
    nothing (a correct password must not use up anything)."""
    moment = time.time() if now is None else now
    wanted = {_failure_keys(name, key)[1]: name for name, key in checks}
    cache = caches[settings.PULSE_RATE_LIMIT_CACHE]
    try:
        locks = cache.get_many(list(wanted))
    except Exception as error:  # fail open, loudly (module docstring)
        _unavailable(",".join(sorted(set(wanted.values()))), error)
        return Verdict(True, 0)
    until = max((float(value) for value in locks.values()), default=0.0)
    if until > moment:
        return Verdict(False, max(1, int(until - moment + 0.999)))
    return Verdict(True, 0)


def failure_record(name: str, key: str, *, now: float | None = None) -> None:
    """Count one failed password for ``key``; past the free failures, lock it with exponential backoff."""
    rate = rate_for(name)
    moment = time.time() if now is None else now
    count_key, until_key = _failure_keys(name, key)
    cache = caches[settings.PULSE_RATE_LIMIT_CACHE]
    try:
        # The count is remembered for the rate's window after the latest failure.
        cache.add(count_key, 0, timeout=rate.seconds)
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between add() and incr()
            cache.set(count_key, 1, timeout=rate.seconds)
            count = 1
        cache.touch(count_key, timeout=rate.seconds)
        if count >= rate.limit:
            lock = min(FAILURE_BACKOFF * 2 ** min(count - rate.limit, 20), rate.seconds)
            cache.set(until_key, moment + lock, timeout=lock + 1)
    except Exception as error:
        _unavailable(name, error)


def failures_clear(name: str, key: str) -> None:
    """Forget a key's failures (after a successful sign-in with that username)."""
    cache = caches[settings.PULSE_RATE_LIMIT_CACHE]
    try:
        cache.delete_many(list(_failure_keys(name, key)))
    except Exception as error:
        _unavailable(name, error)


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind a proxy, ``PULSE_TRUSTED_PROXY_COUNT`` says how many X-Forwarded-For
    entries (from the right) were added by our own proxies; the entry before them is the client."""
    proxies = settings.PULSE_TRUSTED_PROXY_COUNT
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies and forwarded:
        hops = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))
