"""Create the first signing key if there is none (safe to run at every start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from keys.services import signing_key_active


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        key = signing_key_active()
        self.stdout.write(f"Active signing key: {key.kid} ({key.algorithm})")
