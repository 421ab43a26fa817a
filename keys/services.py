"""Signing-key lifecycle and JWKS publication.

Every state change writes its audit event in the same transaction, and every change is followed
by a publication of the JWKS and, once committed, by this process's signer reloading (so no caller
has to remember to). Decisions come only from stored timestamps and `now`, so running a
step twice, late, or from two workers at once changes nothing it should not.

    staged ──(published ≥ max-age + margin, rotation due)──▶ active ──(next key activates)──▶ retired
    retired ──(longest token + max-age + margin)──▶ expired      any ──(compromise)──▶ revoked
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.actor import SYSTEM, Actor
from audit.recording import audit_change
from core.conf import app_settings
from keys.crypto import (
    jwk_generate,
    jwk_public_dict,
    private_key_encrypt,
    private_key_reencrypt,
    public_key_pem,
)
from keys.models import PublishedJwks, SigningKey
from keys.selectors import jwks_build, jwks_serialize, signing_key_current
from keys.timing import LifecycleTiming
from keys.tokens import NoActiveKey, Signer, signer_active, signer_reload

State = SigningKey.State


@dataclass
class LifecycleReport:
    changes: list[str] = field(default_factory=list)

    def add(self, key: SigningKey, what: str) -> None:
        self.changes.append(f"{key.kid} {what}")


class KeyNotFound(Exception):
    pass


class KeyStateError(Exception):
    pass


class KeyChanged(Exception):
    """The active key is no longer the one the caller saw: someone (or the same form, again) rotated."""

    def __init__(self, *, expected_kid: str, active_kid: str) -> None:
        super().__init__(f"The active key is {active_kid or 'none'}, not {expected_kid or 'none'}.")
        self.expected_kid = expected_kid
        self.active_kid = active_kid


def key_create(*, algorithm: str, state: str, now: datetime, actor: Actor = SYSTEM) -> SigningKey:
    """Generate a key pair and store it, its private half encrypted under the KEK."""
    jwk = jwk_generate(algorithm)
    kid = jwk.thumbprint()
    with transaction.atomic():
        key = SigningKey.objects.create(
            kid=kid,
            algorithm=algorithm,
            state=state,
            public_jwk=jwk_public_dict(jwk, kid=kid, algorithm=algorithm),
            private_key_encrypted=private_key_encrypt(jwk),
            created_at=now,
            activated_at=now if state == State.ACTIVE else None,
        )
        _audit(
            key,
            "key.staged" if state == State.STAGED else "key.activated",
            now=now,
            actor=actor,
            created=True,
        )
    return key


def signing_key_active(*, now: datetime | None = None) -> SigningKey:
    """The key that signs now; on a brand-new installation, the first key, created active at once.

    Only the first key skips staging: no verifier can have cached a JWKS before there was one.
    Two workers that bootstrap at once both try; the one-active-key constraint lets one win.
    """
    active = signing_key_current()
    if active is not None:
        return active
    now = now or timezone.now()
    try:
        with transaction.atomic():
            key = key_create(algorithm=app_settings.SIGNING_ALG, state=State.ACTIVE, now=now)
            jwks_publish(now=now)
            _signer_follows_on_commit()
            return key
    except IntegrityError:
        return SigningKey.objects.get(state=State.ACTIVE, algorithm=app_settings.SIGNING_ALG)


def signer_ready() -> Signer:
    """The signer of the active key; on a brand-new installation the first key is created first.

    Signing itself (keys/tokens.py) never writes; the bootstrap lives here, with the lifecycle.
    """
    try:
        return signer_active()
    except NoActiveKey:
        signing_key_active()
        return signer_active()


@transaction.atomic
def key_rotate(*, now: datetime, actor: Actor = SYSTEM) -> LifecycleReport:
    """One lifecycle step: expire, stage, activate as the stored timestamps say is due."""
    report = LifecycleReport()
    timing = LifecycleTiming.from_settings()
    algorithm = app_settings.SIGNING_ALG
    _lifecycle_lock()
    live = list(
        SigningKey.objects.select_for_update().filter(state__in=SigningKey.PUBLISHED_STATES).order_by("pk")
    )

    for key in live:
        if key.state == State.RETIRED and key.expires_at and key.expires_at <= now:
            _destroy(key, State.EXPIRED, now=now, actor=actor)
            report.add(key, "expired")

    active = [key for key in live if key.state == State.ACTIVE]
    if not active:
        report.add(signing_key_active(now=now), "created active (first key)")
        return report
    current = max(active, key=lambda key: key.activated_at or key.created_at)
    due_at = (current.activated_at or current.created_at) + timing.rotation
    if current.algorithm != algorithm:
        due_at = now  # AUTHPORTAL_SIGNING_ALG changed: move to the new algorithm, through staging

    staged = next((key for key in live if key.state == State.STAGED and key.algorithm == algorithm), None)
    if staged is None and now >= due_at - timing.prepublish:
        staged = key_create(algorithm=algorithm, state=State.STAGED, now=now, actor=actor)
        report.add(staged, "staged")
    elif staged is not None and now >= due_at and _published_long_enough(staged, now, timing):
        for key in active:
            _retire(key, now=now, timing=timing, actor=actor)
            report.add(key, "retired")
        _activate(staged, now=now, actor=actor)
        report.add(staged, "activated")

    if report.changes:
        jwks_publish(now=now)
        _signer_follows_on_commit()
    return report


@transaction.atomic
def key_rotate_now(
    *, now: datetime, actor: Actor = SYSTEM, expected_active_kid: str | None = None
) -> SigningKey:
    """Emergency rotation: another key signs at once; the previous one stays published as retired.

    The staged key when it has been published for max-age + margin (every verifier that honours
    our Cache-Control already holds it, so none of its tokens meets an unknown kid); otherwise a
    fresh key, which verifiers fetch when its first token names it.

    With `expected_active_kid` (the key the caller decided to replace; "" for none), the rotation
    happens only if that key is still the active one, and otherwise raises KeyChanged and changes
    nothing: a form submitted twice rotates once.
    """
    timing = LifecycleTiming.from_settings()
    algorithm = app_settings.SIGNING_ALG
    _lifecycle_lock()
    active = list(SigningKey.objects.select_for_update().filter(state=State.ACTIVE))
    active_kid = active[0].kid if active else ""
    if expected_active_kid is not None and expected_active_kid != active_kid:
        raise KeyChanged(expected_kid=expected_active_kid, active_kid=active_kid)
    for key in active:
        _retire(key, now=now, timing=timing, actor=actor)
    staged = SigningKey.objects.select_for_update().filter(state=State.STAGED, algorithm=algorithm).first()
    if staged is not None and _published_long_enough(staged, now, timing):
        _activate(staged, now=now, actor=actor)
        key = staged
    else:
        key = key_create(algorithm=algorithm, state=State.ACTIVE, now=now, actor=actor)
    jwks_publish(now=now)
    _signer_follows_on_commit()
    return key


@transaction.atomic
def key_revoke(*, kid: str, now: datetime, actor: Actor = SYSTEM) -> SigningKey:
    """Compromise: out of the JWKS at once, private part destroyed, never used again.

    When the revoked key was signing, the staged key (already published) takes over, or else a
    fresh one: verifiers fetch it when they meet its unknown kid.
    """
    _lifecycle_lock()
    key = SigningKey.objects.select_for_update().filter(kid=kid).first()
    if key is None:
        raise KeyNotFound(f"There is no signing key with kid {kid!r}.")
    if key.state in (State.REVOKED, State.EXPIRED):
        raise KeyStateError(f"The key {kid} is already {key.state}.")
    was_active = key.state == State.ACTIVE
    _destroy(key, State.REVOKED, now=now, actor=actor)
    if was_active:
        successor = (
            SigningKey.objects.select_for_update().filter(state=State.STAGED, algorithm=key.algorithm).first()
        )
        if successor is not None:
            _activate(successor, now=now, actor=actor)
        else:
            key_create(algorithm=app_settings.SIGNING_ALG, state=State.ACTIVE, now=now, actor=actor)
    jwks_publish(now=now)
    _signer_follows_on_commit()
    return key


@transaction.atomic
def kek_rotate(*, now: datetime, actor: Actor = SYSTEM) -> int:
    """Re-encrypt every stored private key under the current AUTHPORTAL_KEK.

    The keys themselves do not change, so the signer this process holds stays as it is.
    """
    _lifecycle_lock()
    keys = list(SigningKey.objects.select_for_update().exclude(private_key_encrypted=""))
    for key in keys:
        key.private_key_encrypted = private_key_reencrypt(key.private_key_encrypted)
        key.save(update_fields=["private_key_encrypted"])
    audit_change(actor=actor, event="key.kek_rotated", subject="keys", details={"keys": len(keys)})
    return len(keys)


def jwks_publish(*, now: datetime) -> PublishedJwks:
    """Store the JWKS document the endpoint serves; write the operator's files once committed."""
    jwks = jwks_build(now=now)
    body, etag = jwks_serialize(jwks)
    published, _ = PublishedJwks.objects.update_or_create(
        pk=1, defaults={"document": body.decode(), "etag": etag, "published_at": now}
    )
    kids = [key["kid"] for key in jwks["keys"]]
    SigningKey.objects.filter(kid__in=kids, published_at__isnull=True).update(published_at=now)
    active_pem = _active_public_pem()
    transaction.on_commit(lambda: _publish_outside(body, active_pem))
    return published


def _publish_outside(body: bytes, active_pem: bytes | None) -> None:
    if app_settings.JWKS_FILE:
        _write_atomically(Path(app_settings.JWKS_FILE), body)
    if app_settings.PUBLIC_KEY_FILE and active_pem:
        _write_atomically(Path(app_settings.PUBLIC_KEY_FILE), active_pem)


def _write_atomically(path: Path, content: bytes) -> None:
    """Readers see the old file or the new one, never half of one (temp file + rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _active_public_pem() -> bytes | None:
    active = (
        SigningKey.objects.filter(state=State.ACTIVE).order_by("-activated_at").only("public_jwk").first()
    )
    return public_key_pem(active.public_jwk) if active else None


def _lifecycle_lock() -> None:
    """One lifecycle change at a time, across workers and beat processes, until the transaction ends.

    Row locks alone are not enough: a step that waited on them would not see a key the other step
    just created. On PostgreSQL a transaction-scoped advisory lock serializes the steps, and each
    statement after it sees what the previous step committed. SQLite takes its write lock at BEGIN
    (transaction_mode IMMEDIATE in settings), which serializes them already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LIFECYCLE_LOCK_ID])


_LIFECYCLE_LOCK_ID = 0x4B455953  # "KEYS"


def _published_long_enough(key: SigningKey, now: datetime, timing: LifecycleTiming) -> bool:
    return key.published_at is not None and now >= key.published_at + timing.activation_delay


def _signer_follows_on_commit() -> None:
    """Once the change commits, this process drops the keys it holds and loads the one active now.

    Other processes learn it from their next token's audit row (keys/tokens.py).
    """
    transaction.on_commit(signer_reload)


def _activate(key: SigningKey, *, now: datetime, actor: Actor) -> None:
    updated = SigningKey.objects.filter(pk=key.pk, state=State.STAGED).update(
        state=State.ACTIVE, activated_at=now
    )
    if updated != 1:
        raise KeyStateError(f"The key {key.kid} is no longer staged.")
    key.state, key.activated_at = State.ACTIVE, now
    _audit(key, "key.activated", now=now, actor=actor)


def _retire(key: SigningKey, *, now: datetime, timing: LifecycleTiming, actor: Actor) -> None:
    key.state, key.retired_at, key.expires_at = State.RETIRED, now, now + timing.retired_keep
    key.save(update_fields=["state", "retired_at", "expires_at"])
    _audit(key, "key.retired", now=now, actor=actor, expires_at=key.expires_at.isoformat())


def _destroy(key: SigningKey, state: str, *, now: datetime, actor: Actor) -> None:
    key.state, key.private_key_encrypted = state, ""
    if state == State.REVOKED or key.expires_at is None:
        key.expires_at = now
    key.save(update_fields=["state", "private_key_encrypted", "expires_at"])
    _audit(key, f"key.{state}", now=now, actor=actor)


def _audit(key: SigningKey, event: str, *, now: datetime, actor: Actor, **details: Any) -> None:
    audit_change(
        actor=actor,
        event=event,
        subject=f"key:{key.kid}",
        occurred_at=now,
        details={"kid": key.kid, "algorithm": key.algorithm, **details},
    )
