"""What a client may learn or change about a token after it was issued: RFC 7009 revocation of its own
token at /o/revoke, and RFC 7662 introspection at /o/introspect for callers that cannot verify a JWT.

Both authenticate the caller as the token endpoint does (a secret or a private_key_jwt assertion),
and record every answer: `revocation.recorded` / `revocation.refused`, `introspection.answered`,
never with the token itself.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from audit.actor import Actor
from audit.recording import audit_record
from clients.models import Client
from clients.selectors import AuthenticatedClient, ClientAuthFailure, client_authenticate
from oauth.access_tokens import NotOurToken, access_token_read
from oauth.client_assertions import client_assertion_authenticate
from oauth.errors import OAuthError, invalid_client, invalid_request
from oauth.requests import ClientCredentials, ClientRequest
from oauth.services import client_refusal_record
from revocation.selectors import token_revoked
from revocation.services import token_revoke

INACTIVE: dict[str, Any] = {"active": False}


def client_authenticated(*, credentials: ClientCredentials) -> AuthenticatedClient:
    """The client a request to /o/revoke or /o/introspect comes from, read afresh; invalid_client else."""
    if credentials.auth_method == "private_key_jwt":
        return client_assertion_authenticate(
            assertion=credentials.client_assertion, client_id=credentials.client_id_sent
        )
    client = client_authenticate(client_id=credentials.client_id, client_secret=credentials.client_secret)
    if isinstance(client, ClientAuthFailure):
        raise invalid_client(client.reason)
    return client


def _token_parameter(request: ClientRequest) -> str:
    token = request.params.get("token")
    if token is None:
        raise invalid_request("The token parameter is missing.")
    return token


def token_revocation_request(
    *, request: ClientRequest, remote_addr: str | None, request_id: str, now: datetime | None = None
) -> None:
    """RFC 7009: a client revokes a token issued to it. A token that is not ours, expired or already
    revoked is answered 200 all the same (§2.2): there is nothing left to revoke. A token of another
    client is refused, and not revoked."""
    now = now or timezone.now()
    client = client_authenticated(credentials=request.credentials)
    token = _token_parameter(request)
    try:
        claims = access_token_read(token=token, now=now)
    except NotOurToken:
        return
    if claims["client_id"] != client.client_id:
        raise OAuthError(
            "unauthorized_client",
            "The token was not issued to this client.",
            reason=f"token of another client: {claims['client_id']}",
        )
    token_revoke(
        jti=claims["jti"],
        client_id=client.client_id,
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
        actor=Actor(name=client.client_id, request_id=request_id, remote_addr=remote_addr),
        via="endpoint",
        now=now,
    )


revocation_refusal_record = functools.partial(client_refusal_record, event="revocation.refused")


def token_introspection(
    *, request: ClientRequest, remote_addr: str | None, request_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """RFC 7662: `active: true` and the token's claims only for our token, valid, unexpired, not
    revoked, whose client is still enabled, and whose audience includes the caller's own service;
    otherwise `{"active": false}` and nothing else. The answer is recorded, never the token."""
    now = now or timezone.now()
    caller = client_authenticated(credentials=request.credentials)
    token = _token_parameter(request)
    claims: dict[str, Any] | None = None
    try:
        claims = access_token_read(token=token, now=now)
        reason = _inactive_reason(claims, caller=caller, now=now)
    except NotOurToken as not_ours:
        reason = not_ours.reason
    details: dict[str, Any] = {"active": reason is None}
    if reason is not None:
        details["reason"] = reason
    if claims is not None:
        details.update(jti=claims["jti"], client=claims["client_id"])
    audit_record(
        event="introspection.answered",
        actor=caller.client_id,
        subject=f"client:{caller.client_id}",
        remote_addr=remote_addr,
        request_id=request_id,
        details=details,
    )
    if reason is not None or claims is None:
        return dict(INACTIVE)
    answer: dict[str, Any] = {"active": True, "token_type": "Bearer"}
    for name in ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "act", "txn"):
        if name in claims:
            answer[name] = claims[name]
    return answer


def _inactive_reason(claims: dict[str, Any], *, caller: AuthenticatedClient, now: datetime) -> str | None:
    audience = Client.objects.filter(pk=caller.pk).values_list("service__audience", flat=True).first()
    token_audience = claims.get("aud")
    audiences = [token_audience] if isinstance(token_audience, str) else token_audience or []
    if audience is None:
        return "caller represents no service"
    if audience not in audiences:
        return "not for the caller's service"
    if token_revoked(jti=claims["jti"], client_id=claims["client_id"], issued_at=claims["iat"], now=now):
        return "revoked"
    if not Client.objects.filter(client_id=claims["client_id"], enabled=True).exists():
        return "client disabled or removed"
    return None


introspection_refusal_record = functools.partial(client_refusal_record, event="introspection.answered")
