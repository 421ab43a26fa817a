"""Signing with the active key, held decrypted in process memory: access tokens and audit checkpoints.

Decrypting and loading an RSA key costs tens of milliseconds, so each process loads a key once and
keeps signing with it, with no query and no time limit: it is checked against the database by the
token's audit INSERT, which commits only while that kid is still the active, published key
(`keys.selectors.signing_key_usable`). When a rotation or a revocation has moved on, the INSERT
writes nothing, the token is thrown away unissued, and `signer_recheck()` makes the next token read
which key is active now. A change made in this process reloads the signer itself, on commit
(`signer_reload`, called by keys/services.py).

Signing never creates a key (`NoActiveKey`): the first key is made with the lifecycle, in
keys/services.py (`signing_key_active`: `ensure_signing_key`, which `make run` runs, the lifecycle
step, and `signer_ready`, which the token endpoint calls on a brand-new installation).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWSCore

from keys.crypto import jwk_public_dict, private_key_decrypt
from keys.selectors import signing_key_current

logger = logging.getLogger(__name__)

ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068 §2.1


@dataclass(frozen=True)
class Signer:
    """A private key loaded in memory; it signs access tokens and (as a chain.CheckpointSigner) checkpoints."""

    kid: str
    algorithm: str
    jwk: JWK = field(repr=False)
    public_jwk: dict[str, str] = field(repr=False)

    def sign(self, claims: dict[str, Any], *, typ: str = ACCESS_TOKEN_TYP) -> str:
        """The claims as a JWS with a protected header of alg, kid and typ: an access token (RFC 9068
        §2.1) by default; another `typ` for another document this key signs (the revocation list)."""
        return self.compact_jws(json.dumps(claims, separators=(",", ":")).encode(), typ=typ)

    def compact_jws(self, payload: bytes, *, typ: str) -> str:
        """The JWS compact serialization (RFC 7515 §7.1) of `payload`, header {alg, kid, typ}.

        The one place we make a JWS. jwcrypto's JWSCore rather than JWS: JWS deep-copies its header
        registry on every token, a sixth of the token endpoint's CPU, for checks our fixed header
        does not need; JWSCore signs, and the compact form is its three parts joined by dots.
        """
        header = json.dumps({"alg": self.algorithm, "kid": self.kid, "typ": typ}, separators=(",", ":"))
        signed = JWSCore(self.algorithm, self.jwk, header, payload).sign()
        return f"{signed['protected']}.{signed['payload'].decode()}.{signed['signature']}"


class SigningUnavailable(Exception):
    """No key can sign: none is active yet, or it cannot be loaded (a wrong key-encryption key, say)."""


class NoActiveKey(SigningUnavailable):
    """There is no active key yet (a brand-new installation)."""


_lock = threading.Lock()
_loaded: dict[str, Signer] = {}
_active: Signer | None = None


def signer_active() -> Signer:
    """The signer for the key this process last found active.

    Whatever it signs may be handed out only once a row conditional on its kid has committed
    (`oauth.services.token_issue`). Raises NoActiveKey when there is none: signing never creates
    one (`keys.services.signer_ready` does).
    """
    global _active
    current = _active
    if current is not None:
        return current
    key = signing_key_current()
    if key is None:
        raise NoActiveKey("there is no active signing key yet: run `manage.py ensure_signing_key`")
    signer = _loaded.get(key.kid)
    if signer is None:
        with _lock:
            signer = _loaded.get(key.kid)
            if signer is None:
                try:
                    jwk = private_key_decrypt(key.private_key_encrypted)
                except ImproperlyConfigured as exc:
                    raise SigningUnavailable(str(exc)) from exc
                public = jwk_public_dict(jwk, kid=key.kid, algorithm=key.algorithm)
                signer = Signer(kid=key.kid, algorithm=key.algorithm, jwk=jwk, public_jwk=public)
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


def signer_reload() -> None:
    """Forget every loaded key and load the one active now: after a change to the keys, on its commit.

    A revoked or retired key's private half leaves this process's memory at once. If the active key
    cannot be loaded now, the next token tries again (and answers 503 if it still cannot).
    """
    signer_cache_clear()
    try:
        signer_active()
    except SigningUnavailable as exc:
        logger.warning("the active signing key could not be loaded after a key change: %s", exc)


def signer_cache_clear() -> None:
    """Forget every loaded key (each test starts without one)."""
    global _active
    with _lock:
        _loaded.clear()
        _active = None


def _forget_all_but(keep: str) -> None:
    # Private keys that no longer sign should not linger in this process's memory.
    for kid in list(_loaded):
        if kid != keep:
            _loaded.pop(kid, None)
