"""Public keys of clients that authenticate with private_key_jwt (RFC 7523 §2.2) instead of a secret.

A client is registered with a JWKS stored here (pasted in the portal, `create_client --jwks FILE`) or
with the URL of its own JWKS (`--jwks-uri`), fetched and cached as a trusted issuer's is
(`clients.external_subjects.jwks_uri_key`). A stored JWKS is rotated without downtime: add the next
key, let the client sign with it, then remove the old one. Each change is audited and moves the
registry version (the client row's trigger), so the very next assertion is checked against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK

from audit.actor import Actor
from clients.changes import client_change_record
from clients.external_subjects import JWKS_MAX_KEYS, jwks_public_keys, trusted_issuer_url_check
from clients.models import Client

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
JWKS_URI_MAX_LENGTH = 500


@dataclass(frozen=True)
class ClientKey:
    kid: str
    kty: str
    alg: str
    thumbprint: str  # RFC 7638, SHA-256, base64url


def client_jwks_check(document: Any) -> dict[str, Any]:
    """A JWKS a client may be registered with: public signing keys only, each with a distinct kid
    (a single key may have none). ValidationError says what is wrong."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise ValidationError("The JWKS is not JSON.") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if isinstance(keys, list) and any(isinstance(jwk, dict) and _PRIVATE_MEMBERS & set(jwk) for jwk in keys):
        raise ValidationError("The JWKS holds a private or secret key: give the public keys only.")
    try:
        usable = jwks_public_keys(document)
    except ValueError as error:
        raise ValidationError(f"Not a usable JWKS: {error}.") from None
    if isinstance(keys, list) and len(usable) != len(keys):
        raise ValidationError(
            "Every key must be a public RSA, EC or OKP signing key with its own kid (none is HMAC or private)."
        )
    return {"keys": list(usable.values())}


def client_jwks_uri_check(url: str) -> str:
    url = url.strip()
    if not url or len(url) > JWKS_URI_MAX_LENGTH:
        raise ValidationError(f"The JWKS URL must be 1 to {JWKS_URI_MAX_LENGTH} characters.")
    try:
        trusted_issuer_url_check(url, what="JWKS URL")
    except ValueError as error:
        raise ValidationError(str(error)[0].upper() + str(error)[1:] + ".") from None
    return url


def client_keys(*, client: Client) -> list[ClientKey]:
    """The keys of a client registered with a stored JWKS, with their RFC 7638 thumbprints."""
    if client.jwks is None:
        return []
    found = []
    for kid, jwk in jwks_public_keys(client.jwks).items():
        try:
            thumbprint = JWK(**jwk).thumbprint()
        except (JWException, ValueError, TypeError):
            thumbprint = "?"
        found.append(
            ClientKey(kid=kid, kty=jwk.get("kty", ""), alg=jwk.get("alg", ""), thumbprint=thumbprint)
        )
    return found


def _keys_details(client: Client) -> list[dict[str, str]]:
    return [{"kid": key.kid, "thumbprint": key.thumbprint} for key in client_keys(client=client)]


@transaction.atomic
def client_key_add(*, client: Client, jwk: dict[str, Any] | str, actor: Actor) -> ClientKey:
    """Add the client's next public key beside its current ones (rotation without downtime)."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.jwks is None:
        raise ValidationError("This client has no stored JWKS: it uses a secret or its own JWKS URL.")
    if isinstance(jwk, str):
        try:
            jwk = json.loads(jwk)
        except ValueError:
            raise ValidationError("The key is not JSON.") from None
    if not isinstance(jwk, dict):
        raise ValidationError("The key must be one JWK, a JSON object.")
    if not jwk.get("kid"):
        raise ValidationError("The key needs a kid, so the client can name it in its assertions.")
    current = client.jwks.get("keys", [])
    if any(existing.get("kid") == jwk["kid"] for existing in current):
        raise ValidationError(f"The client has a key {jwk['kid']!r} already.")
    if len(current) >= JWKS_MAX_KEYS:
        raise ValidationError(f"A client may have at most {JWKS_MAX_KEYS} keys.")
    client.jwks = client_jwks_check({"keys": [*current, jwk]})
    client.save(update_fields=["jwks", "updated"])
    added = next(key for key in client_keys(client=client) if key.kid == jwk["kid"])
    client_change_record(
        client=client,
        event="client.key_added",
        actor=actor,
        details={"kid": added.kid, "thumbprint": added.thumbprint, "keys": _keys_details(client)},
    )
    return added


@transaction.atomic
def client_key_remove(*, client: Client, kid: str, actor: Actor) -> None:
    """Remove one of the client's keys: assertions it signs are refused from the next request on."""
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.jwks is None:
        raise ValidationError("This client has no stored JWKS.")
    keys = {key.kid: key for key in client_keys(client=client)}
    if kid not in keys:
        raise ValidationError(f"The client has no key {kid!r}.")
    if len(keys) == 1:
        raise ValidationError("This is the client's only key: add the next one before removing it.")
    client.jwks = {"keys": [jwk for jwk in client.jwks["keys"] if jwk.get("kid", "") != kid]}
    client.save(update_fields=["jwks", "updated"])
    client_change_record(
        client=client,
        event="client.key_removed",
        actor=actor,
        details={"kid": kid, "thumbprint": keys[kid].thumbprint, "keys": _keys_details(client)},
    )
