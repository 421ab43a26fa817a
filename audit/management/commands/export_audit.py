"""Export audit events, oldest first, streamed in constant memory. JSON Lines and JSON carry the checkpoints
and public keys that let `verify_audit --file` check the export offline; a CSV written with --output gets
them in FILE.seal.jsonl beside it (--format seal writes that alone)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actor import operator
from audit.export_format import FORMATS, SEAL, seal_path_for
from audit.exports import audit_export_count, audit_export_stream
from audit.selectors import AuditFilter


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=(*FORMATS, SEAL), default="jsonl")
        parser.add_argument(
            "--since", help="ISO 8601 date or date-time (UTC unless a zone is given), inclusive"
        )
        parser.add_argument("--until", help="ISO 8601 date or date-time, exclusive")
        parser.add_argument(
            "--event", action="append", default=[], help="An event name or `prefix.*`; may repeat"
        )
        parser.add_argument("--client", default="", help="Events about this client id (subject client:ID)")
        parser.add_argument("--actor", default="")
        parser.add_argument(
            "--txn",
            default="",
            help="Every hop of one delegated request: events carrying this transaction id",
        )
        parser.add_argument("--outcome", choices=("success", "failure"), default="")
        parser.add_argument("--output", type=Path, help="Write here instead of standard output")

    def handle(self, *args: Any, output: Path | None, **options: Any) -> None:
        try:
            filters = AuditFilter.from_params({**options, "events": options["event"]})
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        terminal = sys.stderr.isatty()
        progress = _Progress(total=audit_export_count(filters=filters) if terminal else 0, draw=terminal)
        stream = audit_export_stream(
            filters=filters,
            fmt=options["format"],
            actor=operator(),
            progress=progress,
        )
        if output is None:
            _write(stream, sys.stdout.buffer)
        else:
            with output.open("wb") as sink:
                _write(stream, sink)
        progress.done()
        if output is not None:
            self.stderr.write(f"Exported {progress.rows} events to {output}.")
        if options["format"] == "csv" and output is not None:
            seal = seal_path_for(output)
            with seal.open("wb") as sink:
                _write(
                    audit_export_stream(filters=filters, fmt=SEAL, actor=operator()),
                    sink,
                )
            self.stderr.write(f"Its seal, for `verify_audit --file {output}`: {seal}.")
        elif options["format"] == "csv":
            self.stderr.write(
                "A CSV on standard output has no seal beside it: export --format seal with the same filters."
            )


def _write(stream: Iterable[bytes], sink: BinaryIO) -> None:
    for chunk in stream:
        sink.write(chunk)
    sink.flush()


class _Progress:
    """A one-line bar on standard error, redrawn at most ten times a second."""

    def __init__(self, *, total: int, draw: bool) -> None:
        self.total = max(total, 1)
        self.draw = draw
        self.started = self.drawn = time.monotonic()
        self.rows = 0

    def __call__(self, rows: int) -> None:
        self.rows = rows
        now = time.monotonic()
        if self.draw and now - self.drawn >= 0.1:
            self.drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(self.rows / self.total, 1.0)
        bar = "#" * int(share * 30)
        rate = self.rows / max(now - self.started, 1e-6)
        sys.stderr.write(f"\r[{bar:<30}] {self.rows:>10,}/{self.total:,} rows  {rate:,.0f} rows/s ")
        sys.stderr.flush()

    def done(self) -> None:
        if not self.draw:
            return
        self._draw(time.monotonic())
        sys.stderr.write("\n")
