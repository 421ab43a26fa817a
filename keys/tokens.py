"""Signing RFC 9068 JWT access tokens with the active key, held decrypted in process memory.

Decrypting and loading an RSA key costs tens of milliseconds, so each process loads a key once and
re-reads only *which* key is active, at most every AUTHPORTAL_SIGNING_KEY_CACHE_SECONDS.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from django.conf import settings
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

    def sign(self, claims: dict) -> str:
        """JWS compact serialization with a protected header of alg, kid and typ (RFC 9068 §2.1)."""
        # jwcrypto's JWSCore rather than JWS: JWS deep-copies its header registry on every token,
        # a sixth of the token endpoint's CPU, for checks our fixed header does not need.
        header = json.dumps({"alg": self.algorithm, "kid": self.kid, "typ": "at+jwt"}, separators=(",", ":"))
        payload = json.dumps(claims, separators=(",", ":")).encode()
        signed = JWSCore(self.algorithm, self.jwk, header, payload).sign()
        return f"{signed['protected']}.{signed['payload'].decode()}.{signed['signature']}"


class SigningUnavailable(Exception):
    """The active key cannot be loaded (a wrong key-encryption key, say): no token can be signed."""


_lock = threading.Lock()
_loaded: dict[str, Signer] = {}
_active: tuple[float, Signer] | None = None


def signer_active() -> Signer:
    """The signer for the active key, creating the first key if there is none."""
    global _active
    current = _active
    if current is not None and current[0] > time.monotonic():
        return current[1]
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
    _active = (time.monotonic() + settings.AUTHPORTAL_SIGNING_KEY_CACHE_SECONDS, signer)
    return signer


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
