"""Refusals over a limit, counted in memory and written as one `token.throttled` row per key and window.

A flood must not become a flood of writes: once a key is over its limit, each further refusal only
adds one to a counter here. When the window ends, the count is written as one audit row (with the
count, the limit and the window), so the audit log keeps every refusal's count and the write rate is
bounded by keys x windows, whatever the flood's rate. Windows here are aligned to the epoch
(`AUTHPORTAL_THROTTLE_WINDOW_SECONDS`), so each process writes at most one row per key and window.

Who writes: under the server (authportal/wsgi.py calls `ledger_in_background()`), a thread of each
worker process, every half second, for the windows that have ended, and the worker's shutdown
(`ledger_flush_at_shutdown`, from authportal/rsgi.py's `__rsgi_del__`) for the rest. Elsewhere (the test client, `runserver`), the token request after a window ended writes it.
A row that cannot be written (the database is down) stays counted and is written on the next try.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction

from audit.models import AuditEvent
from audit.recording import audit_record
from core.conf import app_settings
from throttling.models import Throttle

logger = logging.getLogger(__name__)

BACKGROUND_PERIOD_SECONDS = 0.5


@dataclass(frozen=True)
class LedgerKey:
    limit: str  # throttling.models.Throttle.Limit
    key: str  # the limiter's identifier (an HMAC of a client id, or an address)
    window_start: int  # epoch seconds, a multiple of the window


@dataclass
class _Count:
    count: int
    label: Callable[[], str]  # how the audit names the key; may read the database, so called at write time


@dataclass(frozen=True)
class _Marker:
    limit: str
    key: str
    label: Callable[[], str]
    since: float
    until: float


_lock = threading.Lock()
_markers: list[_Marker] = []
_pending: dict[LedgerKey, _Count] = {}
_background = {"wanted": False, "pid": 0}
# Work the background thread does besides writing counts (throttling.services registers it).
_chores: list[Callable[[], None]] = []


def window_start(now: float) -> int:
    window = int(app_settings.THROTTLE_WINDOW_SECONDS)
    return int(now // window) * window


def ledger_count(*, limit: str, key: str, label: Callable[[], str], now: float, until: float) -> None:
    """One more refusal of (limit, key) in the window of `now`. Memory only.

    The first in its window also queues the key's `Throttle` row (what the portal lists), which the
    next flush writes at once: until `until`, when the limiter's window ends.
    """
    ledger_key = LedgerKey(limit=limit, key=key, window_start=window_start(now))
    with _lock:
        entry = _pending.get(ledger_key)
        if entry is None:
            _pending[ledger_key] = _Count(count=1, label=label)
            _markers.append(_Marker(limit=limit, key=key, label=label, since=now, until=until))
        else:
            entry.count += 1
    if _background["wanted"] and _background["pid"] != os.getpid():
        _thread_start()


def ledger_pending() -> dict[LedgerKey, int]:
    with _lock:
        return {key: entry.count for key, entry in _pending.items()}


def ledger_flush(*, now: float | None = None, everything: bool = False) -> int:
    """Write a `token.throttled` row for each window that has ended (every window with `everything`).

    Returns how many rows were written. A row that fails stays counted for the next flush.
    """
    now = time.time() if now is None else now
    window = app_settings.THROTTLE_WINDOW_SECONDS
    _markers_write()
    with _lock:
        due = {
            key: _pending.pop(key) for key in list(_pending) if everything or key.window_start + window <= now
        }
    written = 0
    for key, entry in due.items():
        try:
            _write(key, entry, window=window)
            written += 1
        except Exception:  # noqa: BLE001 (the database is down, or going away: keep the count)
            logger.warning("throttling: a token.throttled row could not be written; kept for the next try")
            with _lock:
                kept = _pending.setdefault(key, _Count(count=0, label=entry.label))
                kept.count += entry.count
            with contextlib.suppress(Exception):
                connection.close()
    return written


def ledger_due(*, now: float) -> bool:
    """Whether a flush would write anything now (cheap: no database)."""
    window = app_settings.THROTTLE_WINDOW_SECONDS
    with _lock:
        return bool(_markers) or any(key.window_start + window <= now for key in _pending)


def _markers_write() -> None:
    with _lock:
        markers = list(_markers)
        _markers.clear()
    for index, marker in enumerate(markers):
        try:
            Throttle.objects.create(
                limit=marker.limit,
                key=marker.key,
                label=marker.label(),
                since=datetime.fromtimestamp(marker.since, UTC),
                until=datetime.fromtimestamp(marker.until, UTC),
            )
        except Exception:  # noqa: BLE001 (the database is down: try again next time)
            logger.warning("throttling: a Throttle row could not be written; kept for the next try")
            with _lock:
                _markers[:0] = markers[index:]
            with contextlib.suppress(Exception):
                connection.close()
            return


def _write(key: LedgerKey, entry: _Count, *, window: int) -> None:
    label = entry.label()
    with transaction.atomic():
        audit_record(
            event="token.throttled",
            outcome=AuditEvent.Outcome.FAILURE,
            actor=label,
            subject=label if label.startswith("address:") else f"client:{label}",
            details={
                "limit": key.limit,
                "count": entry.count,
                "window_start": datetime.fromtimestamp(key.window_start, UTC).isoformat(),
                "window_end": datetime.fromtimestamp(key.window_start + window, UTC).isoformat(),
            },
        )


def _flush_ended() -> None:
    ledger_flush()


def ledger_flush_at_shutdown() -> None:
    """The server's worker is stopping (authportal/rsgi.py): write every count, ended window or not."""
    ledger_flush(everything=True)
    with contextlib.suppress(Exception):
        connection.close()


def ledger_in_background() -> None:
    """Under the server: each worker process writes ended windows from a thread of its own."""
    _background["wanted"] = True


def ledger_chore(chore: Callable[[], None]) -> None:
    """Also run `chore` in the background thread, each period."""
    if chore not in _chores:
        _chores.append(chore)


def ledger_background_running() -> bool:
    return bool(_background["wanted"]) and _background["pid"] == os.getpid()


def ledger_ensure_running() -> None:
    if _background["wanted"] and _background["pid"] != os.getpid():
        _thread_start()


def _thread_start() -> None:
    with _lock:
        if _background["pid"] == os.getpid():
            return
        _background["pid"] = os.getpid()  # a forked worker starts its own
    threading.Thread(target=_run, name="throttle-ledger", daemon=True).start()
    atexit.register(ledger_flush_at_shutdown)  # any other way the process ends normally


def _run() -> None:
    while True:
        time.sleep(BACKGROUND_PERIOD_SECONDS)
        for chore in [*_chores, _flush_ended]:
            try:
                chore()
            except Exception:  # noqa: BLE001 (the thread must outlive any one failure)
                logger.exception("throttling: background chore failed")
                with contextlib.suppress(Exception):
                    connection.close()


def ledger_forget() -> None:
    """Drop every count and queued row of this process unwritten (tests only)."""
    with _lock:
        _pending.clear()
        _markers.clear()
