from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.services import audit_seal


class Command(BaseCommand):
    help = "Seal the events written since the last checkpoint into signed checkpoints (beat: every minute)."

    def handle(self, *args, **options) -> None:
        sealed = audit_seal(now=timezone.now())
        for checkpoint in sealed:
            self.stdout.write(
                f"Sealed {checkpoint}, head {checkpoint.head[:16]}…, signed by {checkpoint.kid}"
            )
        if not sealed:
            self.stdout.write("Nothing to seal.")
