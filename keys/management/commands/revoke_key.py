"""Revoke a compromised signing key: out of the JWKS at once, never used again."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.actor import ACTOR_HELP, operator
from keys.services import KeyNotFound, KeyStateError, key_revoke

# No option of this command, nor of Django's, is a dash and 16 or more base64url characters; a kid is.
DASHED_KID = re.compile(r"^-[A-Za-z0-9_-]{16,}$")


def _dashed_kids_last(args: list[str] | None) -> list[str] | None:
    """A kid is a base64url thumbprint, and one in 64 starts with '-': argparse would take it for an option
    (`-vAbc…` for -v with the value `Abc…`, `-hAbc…` for -h). Such an argument goes last, after '--', where
    argparse reads only values; a command line that has its own '--' is left as written."""
    if args is None or "--" in args:
        return args
    kids = [arg for arg in args if DASHED_KID.match(arg)]
    if not kids:
        return args
    return [arg for arg in args if arg not in kids] + ["--", *kids]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kid", help="The key's kid (see list_keys)")
        parser.add_argument("--actor", help=ACTOR_HELP)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Both the command line and call_command parse through parse_args.
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args = parser.parse_args
        parser.parse_args = lambda args=None, namespace=None: parse_args(  # type: ignore[method-assign,assignment]
            _dashed_kids_last(args), namespace
        )
        return parser

    def handle(self, *args: Any, kid: str, **options: Any) -> None:
        try:
            key = key_revoke(kid=kid, now=timezone.now(), actor=operator(options["actor"]))
        except (KeyNotFound, KeyStateError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Revoked {key.kid}. Tokens it signed stop verifying as verifiers refresh the JWKS."
        )
