"""Readiness: can this process serve tokens now? Each check cheap enough for a probe every second.

- database: one `SELECT 1` (under the protocol's deadline, AUTHPORTAL_DB_TIMEOUT_PROTOCOL_MS);
- signing_key: the active key is the one this process holds in memory, decrypted (loaded and
  decrypted now if it was not; never created: a probe changes nothing);
- audit_seal: no event has waited for its seal longer than AUTHPORTAL_READY_SEAL_MAX_LAG_SECONDS
  (beat seals every minute, so a lag means beat or its worker is down);
- broker: Redis answers a PING within 0.5 s, when REDIS_URL is set.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

import redis
from django import db
from django.conf import settings

from core.conf import app_settings
from keys.selectors import key_active_kid
from keys.tokens import SigningUnavailable, signer_active, signer_recheck
from monitoring.selectors import audit_seal_lag, database_answers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    ms: float


@dataclass
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "unready",
            "checks": {
                name: {"ok": check.ok, "detail": check.detail, "ms": round(check.ms, 2)}
                for name, check in self.checks.items()
            },
        }


def _timed(name: str, readiness: Readiness, run: object) -> None:
    started = time.perf_counter()
    try:
        ok, detail = run()  # type: ignore[operator]
    except db.Error as exc:
        ok, detail = False, f"database error: {type(exc).__name__}"
        db.connection.close()  # the next probe connects afresh
    except Exception as exc:  # noqa: BLE001 (a probe answers, whatever a check raises)
        ok, detail = False, f"{type(exc).__name__}"
        logger.warning("readiness check %s failed", name, exc_info=True)
    readiness.checks[name] = Check(ok=ok, detail=detail, ms=(time.perf_counter() - started) * 1000)


def _database() -> tuple[bool, str]:
    database_answers()
    return True, "answers"


def _signing_key() -> tuple[bool, str]:
    active = key_active_kid()
    if not active:
        return False, "no active signing key"
    try:
        held = signer_active()
        if held.kid != active:
            signer_recheck()  # the key rotated since this process last signed: load the new one
            held = signer_active()
    except SigningUnavailable:
        return False, "the active key cannot be decrypted (AUTHPORTAL_KEK?)"
    return held.kid == active, f"kid {held.kid} in memory"


def _audit_seal(now: datetime) -> tuple[bool, str]:
    lag = audit_seal_lag(now=now)
    limit = app_settings.READY_SEAL_MAX_LAG_SECONDS
    return lag <= limit, f"oldest unsealed event {lag:.0f} s old (at most {limit} s)"


_broker: dict[str, redis.Redis] = {}


def _broker_answers() -> tuple[bool, str]:
    url = settings.REDIS_URL or ""
    client = _broker.get(url)
    if client is None:
        client = _broker[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    client.ping()
    return True, "answers"


def readiness_check(*, now: datetime) -> Readiness:
    readiness = Readiness()
    _timed("database", readiness, _database)
    if readiness.checks["database"].ok:
        _timed("signing_key", readiness, _signing_key)
        _timed("audit_seal", readiness, lambda: _audit_seal(now))
    else:
        for name in ("signing_key", "audit_seal"):
            readiness.checks[name] = Check(ok=False, detail="the database does not answer", ms=0.0)
    if settings.REDIS_URL:
        _timed("broker", readiness, _broker_answers)
    return readiness
