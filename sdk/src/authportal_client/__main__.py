"""`python -m authportal_client keygen [--alg ES256] [--private-key-out FILE] [--jwks-out FILE]`:
a new key pair for private_key_jwt. The private key stays with the service (`TokenClient(...,
private_key=...)`); the JWKS is what the portal registers (`create_client NAME --jwks FILE`)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from authportal_client.assertions import keygen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m authportal_client")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("keygen", help="print a new private key and the JWKS to register")
    gen.add_argument("--alg", default="ES256", choices=("ES256", "RS256", "PS256", "EdDSA"))
    gen.add_argument("--private-key-out", metavar="FILE", help="write the private key here (mode 0600)")
    gen.add_argument("--jwks-out", metavar="FILE", help="write the JWKS here")
    args = parser.parse_args(argv)
    pair = keygen(args.alg)
    jwks = json.dumps(pair.jwks, indent=2)
    if args.private_key_out:
        descriptor = os.open(args.private_key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(pair.private_key_pem)
    if args.jwks_out:
        with open(args.jwks_out, "w", encoding="utf-8") as file:
            file.write(jwks + "\n")
    if not args.private_key_out:
        sys.stdout.write(
            "# The private key: keep it with the service, secret (TokenClient(..., private_key=...))\n"
        )
        sys.stdout.write(pair.private_key_pem)
    if not args.jwks_out:
        sys.stdout.write(
            "# The JWKS to register: create_client NAME --jwks FILE, or paste it in the portal\n"
        )
        sys.stdout.write(jwks + "\n")
    sys.stderr.write(f"kid {pair.kid}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
