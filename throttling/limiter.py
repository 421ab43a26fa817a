"""The counters behind the limits: the `limits` library, in Redis when REDIS_URL is set, else in memory.

In Redis every process and node shares each counter; in memory each process counts on its own (a
laptop's `make run`, the test suite). A limiter that cannot reach Redis lets requests through
(caches are caches: the token endpoint works without Redis) and is not asked again for
`_REDIS_DOWN_PAUSE_SECONDS`, so a dead Redis costs one failed call, not one per request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from core.conf import app_settings

logger = logging.getLogger(__name__)

_REDIS_DOWN_PAUSE_SECONDS = 5.0
_NAMESPACE = "authportal-throttle"


@dataclass
class _Limiter:
    storage: Storage
    strategy: FixedWindowRateLimiter
    paused_until: float = 0.0


_lock = threading.Lock()
_limiter: _Limiter | None = None


def _current() -> _Limiter:
    global _limiter
    if _limiter is None:
        with _lock:
            if _limiter is None:
                storage: Storage = MemoryStorage()
                if settings.REDIS_URL:
                    shared = storage_from_string(
                        settings.REDIS_URL, socket_timeout=0.25, socket_connect_timeout=0.25
                    )
                    assert isinstance(shared, Storage)  # the synchronous storage, not limits.aio's
                    storage = shared
                _limiter = _Limiter(storage=storage, strategy=FixedWindowRateLimiter(storage))
    return _limiter


def limiter_reset() -> None:
    """Forget every counter of this process's limiter (tests; the next call makes a fresh one)."""
    global _limiter
    with _lock:
        if _limiter is not None:
            with contextlib.suppress(Exception):  # a storage that cannot be reached has nothing to forget
                _limiter.storage.reset()
        _limiter = None
        _clean.clear()


def item(amount: int) -> RateLimitItem:
    return RateLimitItemPerSecond(amount, app_settings.THROTTLE_WINDOW_SECONDS, namespace=_NAMESPACE)


# A key seen with no hit at all is not asked about again for this long in this process: a good
# client's request then costs the limiter nothing, and a flood from other nodes under the same key
# is seen within this delay. A key with hits is asked about on every request.
CLEAN_RECHECK_SECONDS = 1.0
_clean: dict[tuple[str, str], float] = {}


def _guarded(call: str, amount: int, limit: str, key: str) -> object:
    limiter = _current()
    if limiter.paused_until > time.monotonic():
        return None
    try:
        return getattr(limiter.strategy, call)(item(amount), limit, key)
    except Exception:  # noqa: BLE001 (redis-py's errors; whatever the storage raises, let the request through)
        limiter.paused_until = time.monotonic() + _REDIS_DOWN_PAUSE_SECONDS
        logger.warning(
            "throttling: the limiter's storage failed; not throttling for %s s", _REDIS_DOWN_PAUSE_SECONDS
        )
        return None


def remaining(*, limit: str, key: str, amount: int) -> tuple[int, float] | None:
    """(hits left in the window, when it ends as epoch seconds), or None when the storage is down.

    Served from this process's memory for a key last seen clean less than CLEAN_RECHECK_SECONDS ago.
    """
    now = time.monotonic()
    if now - _clean.get((limit, key), -CLEAN_RECHECK_SECONDS) < CLEAN_RECHECK_SECONDS:
        return amount, 0.0
    stats = _guarded("get_window_stats", amount, limit, key)
    if stats is None:
        return None
    left = int(stats.remaining)  # type: ignore[attr-defined]
    if left >= amount:
        if len(_clean) > 100_000:
            _clean.clear()
        _clean[(limit, key)] = now
    return left, float(stats.reset_time)  # type: ignore[attr-defined]


def hit(*, limit: str, key: str, amount: int) -> bool:
    """Count one hit; False when this hit went over `amount` for the window."""
    _clean.pop((limit, key), None)
    return _guarded("hit", amount, limit, key) is not False


def clear(*, limit: str, key: str, amount: int) -> None:
    _clean.pop((limit, key), None)
    limiter = _current()
    try:
        limiter.strategy.clear(item(amount), limit, key)
    except Exception:  # noqa: BLE001
        logger.warning("throttling: could not clear %s in the limiter's storage", limit)
