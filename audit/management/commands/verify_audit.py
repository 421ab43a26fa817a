"""Re-walk the audit seal and report the first altered, inserted or deleted event (exit 1). With --file,
verify an export offline, without the database: JSON Lines, JSON, or CSV with its seal file
(FILE.seal.jsonl beside it, or --seal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verify.database import audit_verify
from audit.verify.file import audit_export_verify
from audit.verify.report import VerifyReport


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, help="An export made by export_audit or the portal")
        parser.add_argument("--seal", type=Path, help="With a CSV --file: its seal (default FILE.seal.jsonl)")
        parser.add_argument(
            "--allow-unsealed",
            action="store_true",
            help="With --file: events newer than the last seal are not a failure",
        )
        parser.add_argument("--max-problems", type=int, default=20, help="Stop after this many (default 20)")

    def handle(
        self,
        *args: Any,
        file: Path | None,
        seal: Path | None,
        allow_unsealed: bool,
        max_problems: int,
        **options: Any,
    ) -> None:
        if file is not None:
            for given in (file, seal):
                if given is not None and not given.is_file():
                    raise CommandError(f"{given}: no such file")
            report = audit_export_verify(
                path=file, seal=seal, allow_unsealed=allow_unsealed, limit=max_problems
            )
        else:
            report = audit_verify(limit=max_problems)
        self._print(report, source=str(file) if file else "database")
        if not report.ok:
            raise CommandError(f"audit log does NOT verify: {report.problems[0].message}", returncode=1)

    def _print(self, report: VerifyReport, *, source: str) -> None:
        self.stdout.write(
            f"{source}: {report.checkpoints} checkpoints, {report.events} sealed events checked, "
            f"{report.unsealed} not yet sealed."
        )
        for finding in report.problems:
            self.stdout.write(f"  {finding.kind.upper()}: {finding.message}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("OK: every sealed event is as it was sealed."))
