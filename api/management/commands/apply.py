"""Make the registry match a YAML file (services, scopes, clients, grants, edges, trusted issuers): print the
plan, then apply it in one transaction. See README, 'Automating AuthPortal'."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.services import API_SERVICE_NAME
from audit.actor import ACTOR_HELP, Actor, operator_name
from clients.declarative import ConfigError, config_apply, config_parse, config_plan, desired_state

CHANGES_PENDING = 2  # --check: the registry does not match the file


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument(
            "--check", action="store_true", help="change nothing; exit 0 if the registry matches, 2 if not"
        )
        parser.add_argument("--prune", action="store_true", help="also delete what the file does not list")
        parser.add_argument(
            "--secrets-file",
            type=Path,
            help="write new clients' secrets here (created readable by its owner only) instead of printing them",
        )
        parser.add_argument("--actor", help=ACTOR_HELP)

    def handle(self, *args: Any, file: Path, dry_run: bool, check: bool, prune: bool, **options: Any) -> None:
        secrets_file: Path | None = options["secrets_file"]
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        actor = Actor(name=operator_name(options["actor"]))
        try:
            document = config_parse(text, name=str(file))
            desired = desired_state(document)
            steps = config_plan(desired=desired, prune=prune, keep_services=frozenset({API_SERVICE_NAME}))
            # Tried in a transaction rolled back, so a --dry-run or --check finds what apply would refuse.
            trial = dry_run or check
            # Made before anything changes, so that a file we cannot create loses no secret.
            sink = _owner_only(secrets_file) if secrets_file is not None and steps and not trial else None
            try:
                secrets = config_apply(
                    document=document,
                    steps=steps,
                    desired=desired,
                    actor=actor,
                    source=str(file),
                    commit=not trial,
                )
            except BaseException:
                if sink is not None:
                    sink.close()
                    os.unlink(secrets_file)  # type: ignore[arg-type]
                raise
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        if not steps:
            self.stdout.write("The registry matches the file: nothing to do.")
            return
        out = self.stderr if check else self.stdout
        out.write(f"Plan ({len(steps)} changes):")
        for step in steps:
            out.write(f"  {step}")
        if check:
            sys.exit(CHANGES_PENDING)
        if dry_run:
            self.stdout.write("Dry run: nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS(f"Applied {len(steps)} changes in one transaction."))
        if sink is not None:
            with sink:
                sink.write("".join(f"{s.name} {s.client_id} {s.client_secret}\n" for s in secrets))
            self.stdout.write(
                f"New clients' secrets (name, client id, secret) are in {secrets_file}, mode 600."
            )
        for secret in secrets if secrets_file is None else []:
            self.stdout.write(
                f"  {secret.name}: client_id {secret.client_id}  client_secret {secret.client_secret}"
            )
        if secrets and secrets_file is None:
            self.stdout.write("  (each secret is shown only now)")


def _owner_only(path: Path) -> TextIO:
    """A new file with mode 600: never an existing one, which someone else may be able to read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CommandError(f"Cannot create {path} ({exc.strerror}); nothing changed.") from None
    return os.fdopen(fd, "w", encoding="utf-8")
