"""Seal the audit events written since the last checkpoint into checkpoints signed with the active token-
signing key (beat: every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.sealing import audit_seal
from keys.services import signer_ready
from keys.tokens import SigningUnavailable


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            signer = signer_ready()
        except SigningUnavailable as exc:
            raise CommandError(f"cannot seal: {exc}") from None
        sealed = audit_seal(signer=signer, now=timezone.now())
        for checkpoint in sealed:
            self.stdout.write(
                f"Sealed {checkpoint}, head {checkpoint.head[:16]}…, signed by {checkpoint.kid}"
            )
        if not sealed:
            self.stdout.write("Nothing to seal.")
