"""Write the registry in the format `apply` reads (standard output unless --output); no secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from clients.declarative import config_export


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="write here instead of standard output")

    def handle(self, *args: Any, output: Path | None, **options: Any) -> None:
        text = config_export()
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote the registry to {output}.")
