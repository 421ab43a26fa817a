"""Signing-key lifecycle. Every state change writes its audit event in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import actor_name, audit_record
from keys.crypto import jwk_generate, jwk_public_dict, private_key_encrypt
from keys.models import SigningKey


def key_create(*, algorithm: str, state: str, now: datetime, actor: Any = None) -> SigningKey:
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
            activated_at=now if state == SigningKey.State.ACTIVE else None,
        )
        audit_record(
            event=f"key.{state}" if state != SigningKey.State.ACTIVE else "key.activated",
            actor=actor_name(actor),
            subject=f"key:{kid}",
            details={"kid": kid, "algorithm": algorithm, "created": True},
            occurred_at=now,
        )
    return key


def signing_key_ensure(*, algorithm: str | None = None, now: datetime | None = None) -> SigningKey:
    """The active key for `algorithm`, created on first need.

    Two workers that both find no key both try; the one-active-key constraint lets exactly one win
    and the other uses the winner's key.
    """
    algorithm = algorithm or settings.AUTHPORTAL_SIGNING_ALG
    active = SigningKey.objects.filter(algorithm=algorithm, state=SigningKey.State.ACTIVE).first()
    if active is not None:
        return active
    try:
        return key_create(algorithm=algorithm, state=SigningKey.State.ACTIVE, now=now or timezone.now())
    except IntegrityError:
        return SigningKey.objects.get(algorithm=algorithm, state=SigningKey.State.ACTIVE)
