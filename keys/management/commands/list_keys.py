"""List signing keys: kid, algorithm, state, created, activates/retires/expires at."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand

from keys.selectors import key_schedule


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        columns = ("kid", "algorithm", "state", "created", "activates", "retires", "expires")
        rows = [
            (
                row.key.kid,
                row.key.algorithm,
                row.key.state,
                _when(row.key.created_at),
                _when(row.activates_at),
                _when(row.retires_at),
                _when(row.expires_at),
            )
            for row in key_schedule()
        ]
        widths = [max(len(str(value)) for value in column) for column in zip(columns, *rows, strict=False)]
        for line in (columns, *rows):
            self.stdout.write(
                "  ".join(str(value).ljust(width) for value, width in zip(line, widths, strict=True))
            )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
