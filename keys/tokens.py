"""Signing RFC 9068 JWT access tokens with the active key, held decrypted in process memory.

Decrypting and loading an RSA key costs tens of milliseconds, so each process loads a key once and
keeps signing with it, with no query and no time limit: it is checked against the database by the
token's audit INSERT, which commits only while that kid is still the active, published key
(`keys.selectors.signing_key_usable_sql`). When a rotation or a revocation has moved on, the INSERT
writes nothing, the token is thrown away unissued, and `signer_recheck()` makes the next token read
which key is active now.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWSCore

from keys.crypto import private_key_decrypt
from keys.services import signing_key_active


@dataclass(frozen=True)
class Signer:
    kid: str
    algorithm: str
    jwk: JWK

    def sign(self, claims: dict, *, typ: str = "at+jwt") -> str:
        """JWS compact serialization with a protected header of alg, kid and typ (RFC 9068 §2.1 for an
        access token; another `typ` for another document this key signs, the revocation list)."""
        # jwcrypto's JWSCore rather than JWS: JWS deep-copies its header registry on every token,
        # a sixth of the token endpoint's CPU, for checks our fixed header does not need.
        header = json.dumps({"alg": self.algorithm, "kid": self.kid, "typ": typ}, separators=(",", ":"))
        payload = json.dumps(claims, separators=(",", ":")).encode()
        signed = JWSCore(self.algorithm, self.jwk, header, payload).sign()
        return f"{signed['protected']}.{signed['payload'].decode()}.{signed['signature']}"


class SigningUnavailable(Exception):
    """The active key cannot be loaded (a wrong key-encryption key, say): no token can be signed."""


_lock = threading.Lock()
_loaded: dict[str, Signer] = {}
_active: Signer | None = None


def signer_active() -> Signer:
    """The signer for the key this process last found active, creating the first key if there is none.

    Whatever it signs may be handed out only once a row conditional on its kid has committed
    (`oauth.services.token_issue`).
    """
    global _active
    current = _active
    if current is not None:
        return current
    key = signing_key_active()
    signer = _loaded.get(key.kid)
    if signer is None:
        with _lock:
            signer = _loaded.get(key.kid)
            if signer is None:
                try:
                    jwk = private_key_decrypt(key.private_key_encrypted)
                except ImproperlyConfigured as exc:
                    raise SigningUnavailable(str(exc)) from exc
                signer = Signer(kid=key.kid, algorithm=key.algorithm, jwk=jwk)
                _loaded[key.kid] = signer
    _forget_all_but(key.kid)
    _active = signer
    return signer


def signer_recheck() -> None:
    """Read which key is active again before the next token: this one's row found ours no longer is.

    The keys already decrypted stay loaded (the same key is not decrypted twice when it was the
    registry that changed); `signer_active` drops those that no longer sign.
    """
    global _active
    _active = None


def signer_cache_clear() -> None:
    """Forget every loaded key (tests, and after a revocation in this process)."""
    global _active
    with _lock:
        _loaded.clear()
        _active = None


def _forget_all_but(keep: str) -> None:
    # Private keys that no longer sign should not linger in this process's memory.
    for kid in list(_loaded):
        if kid != keep:
            _loaded.pop(kid, None)
