"""Rate limits for signing in: fixed-window counters in the Django cache (Redis in production).

Limits are named in ``settings.PULSE_RATE_LIMITS`` as ``"<count>/<seconds>"``, e.g. ``"10/900"``: at most
ten attempts per key in each 15-minute window. Keys are hashed before they reach the cache, so an email
address never appears in Redis.

When the cache is down (Redis unreachable, timing out), ``hit`` lets the attempt through and logs a warning.
For a sign-in limiter the alternative, failing closed, would lock every user out for as long as Redis is
down, and a limiter must never turn into a 500. Failing open loses only the brute-force brake, which the
token's 256 bits and Django's password hashing make a minor loss for the duration of an outage.
"""

from __future__ import annotations

import hashlib
import logging
import time
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


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind a proxy, ``PULSE_TRUSTED_PROXY_COUNT`` says how many X-Forwarded-For
    entries (from the right) were added by our own proxies; the entry before them is the client."""
    proxies = settings.PULSE_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))
