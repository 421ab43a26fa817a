"""Sign N private_key_jwt assertions for bench/token_endpoint (AUTH=both), one a line, with the SDK's
own signer (authportal_client.assertions): a jti is single use, so each request needs its own.
    python bench/sign_assertions.py PRIVATE_KEY_PEM CLIENT_ID ISSUER N > assertions.txt
"""

from __future__ import annotations

import sys
import time

from authportal_client.assertions import AssertionSigner


def main() -> None:
    pem, client_id, issuer, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    signer = AssertionSigner.load(open(pem, "rb").read())  # noqa: SIM115
    # An hour's validity (our most, minus a margin) outlasts the run; iat now, so none is in the future.
    now = time.time()
    out = sys.stdout
    for _ in range(count):
        out.write(signer.sign(client_id=client_id, audience=issuer, now=now, lifetime=3500) + "\n")


if __name__ == "__main__":
    main()
