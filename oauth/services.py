"""Issuing access tokens: which audiences and scopes a request gets, the JWT, and its audit row."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.inflight import AuditWriteFailed, audit_write_timeout
from audit.models import AuditEvent
from audit.recording import audit_record, audit_record_start
from audit.rows import RowCondition
from clients.selectors import (
    AuthenticatedClient,
    ClientAuthFailure,
    GrantedScope,
    client_authenticate,
    client_authenticate_cached,
    client_id_registered,
    registry_unchanged,
)
from core.conf import app_settings
from core.ids import random_id
from keys.selectors import signing_key_usable
from keys.services import signer_ready
from keys.tokens import signer_recheck
from oauth.client_assertions import client_assertion_authenticate, client_assertion_decided
from oauth.errors import OAuthError, invalid_client, invalid_scope, invalid_target
from oauth.requests import TokenRequest

Decided = TypeVar("Decided")


@dataclass(frozen=True)
class TokenTargets:
    audiences: list[str]
    scopes: list[str]


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str
    claims: dict[str, Any]  # as signed, but iss: for the request's metrics and log, not read back


def token_targets_resolve(
    *, granted: list[GrantedScope], scopes: list[str] | None, resources: list[str] | None
) -> TokenTargets:
    """Decide the token's `aud` and `scope` from the client's grants and what it asked for.

    - `resource` names the audiences; without `scope`, every granted scope on them.
    - `scope` alone: the audiences are the services that own those scopes.
    - neither: every grant, when all are on one service; otherwise the client must say which.
    """
    audience_of = {grant.name: grant.audience for grant in granted}
    scopes_on: dict[str, list[str]] = defaultdict(list)
    for grant in sorted(granted, key=lambda g: g.name):
        scopes_on[grant.audience].append(grant.name)

    for scope in scopes or ():
        if scope not in audience_of:
            raise invalid_scope(f"The scope {scope} is unknown or not granted to this client.")

    if resources:
        for resource in resources:
            if resource not in scopes_on:
                raise invalid_target(f"The resource {resource} is unknown or not granted to this client.")
        if scopes is None:
            return TokenTargets(resources, [s for audience in resources for s in scopes_on[audience]])
        for scope in scopes:
            if audience_of[scope] not in resources:
                raise invalid_scope(f"The scope {scope} does not belong to any requested resource.")
        for resource in resources:
            if not any(audience_of[scope] == resource for scope in scopes):
                raise invalid_target(f"No requested scope applies to the resource {resource}.")
        return TokenTargets(resources, scopes)

    if scopes:
        return TokenTargets(list(dict.fromkeys(audience_of[scope] for scope in scopes)), scopes)

    if not scopes_on:
        raise invalid_scope("This client has no granted scopes.")
    if len(scopes_on) > 1:
        raise invalid_target(
            "This client is granted scopes on several services: name the audience with the resource parameter."
        )
    ((audience, names),) = scopes_on.items()
    return TokenTargets([audience], names)


def token_issue(
    *,
    client: AuthenticatedClient,
    targets: TokenTargets,
    remote_addr: str | None,
    request_id: str,
    now: datetime | None = None,
) -> IssuedToken | None:
    """Sign an RFC 9068 access token and commit its `token.issued` row before it is handed out.

    None, and no row, when it was decided or signed on what no longer holds (`token_sign_recorded`).
    """
    now = now or timezone.now()
    scope = " ".join(targets.scopes)
    audience: str | list[str] = targets.audiences[0] if len(targets.audiences) == 1 else targets.audiences
    claims = access_token_claims(client, sub=client.client_id, aud=audience, scope=scope, now=now)
    jti = claims["jti"]
    access_token = token_sign_recorded(
        client=client,
        event="token.issued",
        claims=claims,
        details={"client": client.name, "audiences": targets.audiences, "scopes": targets.scopes, "jti": jti},
        now=now,
        remote_addr=remote_addr,
        request_id=request_id,
    )
    if access_token is None:
        return None
    return IssuedToken(
        access_token=access_token,
        expires_in=client.access_token_lifetime,
        scope=scope,
        jti=jti,
        claims=claims,
    )


def token_row_conditions(*, client: AuthenticatedClient, kid: str) -> list[RowCondition]:
    """What a token's audit row is written under: the registry as `client` was read (when it was read
    with its version) and `kid` still the active, published key."""
    conditions = [signing_key_usable(kid)]
    if client.registry_version is not None:
        conditions.insert(0, registry_unchanged(client.registry_version))
    return conditions


def access_token_claims(
    client: AuthenticatedClient,
    *,
    sub: str,
    aud: str | list[str],
    scope: str,
    now: datetime,
    exp: int | None = None,
) -> dict[str, Any]:
    """The claims of an RFC 9068 access token for `client`, but `iss` (the signer adds it): issued `now`,
    expiring after the client's token lifetime unless `exp` is sooner, with a fresh random 18-byte `jti`."""
    issued_at = int(now.timestamp())
    lifetime_end = issued_at + client.access_token_lifetime
    return {
        "sub": sub,
        "aud": aud,
        "exp": lifetime_end if exp is None else min(exp, lifetime_end),
        "iat": issued_at,
        "jti": random_id(18),
        "client_id": client.client_id,
        "scope": scope,
    }


def token_sign_recorded(
    *,
    client: AuthenticatedClient,
    event: str,
    claims: dict[str, Any],
    details: dict[str, Any],
    now: datetime,
    remote_addr: str | None,
    request_id: str,
) -> str | None:
    """Sign `claims` (our `iss` added) and commit the `event` row (`details`, the key's `kid` and the
    token's `exp` added) before the token is handed out: for `token.issued` and `token.exchanged`.

    None, and no row, when the registry changed since `client` was read (its `registry_version`),
    or when the key this process signed with is no longer the active, published one (a rotation or
    a revocation, in any process): the token was decided or signed on what no longer holds, and is
    thrown away; the next attempt reads the active key again.
    """
    signer = signer_ready()
    # Every field of the row is known before signing, so the database commits it while the token is
    # signed (audit/inflight.py). The token leaves only once the row is committed: wait() raises
    # otherwise. Signing with a key already in memory does not fail in practice; if it did, the row
    # would stand for a token nobody received, which the append-only log cannot take back.
    audit_row = audit_record_start(
        event=event,
        actor=client.client_id,
        subject=f"client:{client.client_id}",
        remote_addr=remote_addr,
        request_id=request_id,
        occurred_at=now,
        only_if=token_row_conditions(client=client, kid=signer.kid),
        details={**details, **client_authentication_details(client), "kid": signer.kid, "exp": claims["exp"]},
    )
    try:
        access_token = signer.sign({"iss": app_settings.ISSUER, **claims})
    finally:
        # Also when signing fails: the connection is not free until the INSERT's result is read.
        written = audit_row.wait(audit_write_timeout())
    if not written:
        signer_recheck()
        return None
    return access_token


def client_authentication_details(client: AuthenticatedClient) -> dict[str, dict[str, str]]:
    """What an issuance row says of how its client authenticated, when not by a secret: the accepted
    private_key_jwt assertion (`client_assertion`: kid, alg, jti, exp), so every accepted assertion has
    its row, the issuance's own."""
    if client.authentication is None:
        return {}
    return {"client_assertion": {k: v for k, v in client.authentication.items() if k != "method"}}


def client_refusal_record(
    *,
    event: str,
    error: OAuthError,
    client_id: str,
    remote_addr: str | None,
    request_id: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """The row of a refused client request (`token.denied`, `revocation.refused`, a refused
    introspection), naming the presented client id only as `client_id_audited` allows."""
    presented = client_id_audited(client_id=client_id)
    audit_record(
        event=event,
        outcome=AuditEvent.Outcome.FAILURE,
        actor=presented,
        subject=f"client:{presented}" if presented else "",
        remote_addr=remote_addr,
        request_id=request_id,
        details={"error": error.error, "reason": error.reason, **(extra or {})},
    )


token_denial_record = functools.partial(client_refusal_record, event="token.denied")


UNREGISTERED_CLIENT_PREFIX = "unregistered:"


def client_id_audited(*, client_id: str) -> str:
    """How a presented client id appears in the audit log: as is only when it is a registered id.

    Anything else may be a secret sent in the id's place (a client that swapped them), so it is
    stored as `unregistered:` and 16 hex digits of an HMAC keyed with SECRET_KEY: the same text
    always gives the same fingerprint, so repeated attempts group, but a guess cannot be checked
    against the log without the key.
    """
    if not client_id or client_id_registered(client_id=client_id):
        return client_id
    digest = salted_hmac("authportal.audit.unregistered_client_id", client_id, algorithm="sha256")
    return UNREGISTERED_CLIENT_PREFIX + digest.hexdigest()[:16]


# How many times a request is decided anew when the registry keeps changing under it.
_REGISTRY_RACE_ATTEMPTS = 3


def client_credentials_grant(
    *, request: TokenRequest, remote_addr: str | None, request_id: str
) -> IssuedToken:
    """The whole client_credentials exchange (RFC 6749 §4.4) after the request has been read.

    A client this process has seen is decided from its cached credentials and grants, with no query
    before the audit INSERT, which commits only if the registry has not changed since (see
    `clients.selectors.client_authenticate_cached`). Otherwise, or when the registry has changed, or
    when the cache would refuse, the decision is made on a fresh read.
    """
    if request.grant_type != "client_credentials":
        if request.auth_method == "private_key_jwt":
            client_assertion_authenticate(
                assertion=request.client_assertion, client_id=request.params.get("client_id")
            )
        else:
            client = client_authenticate(client_id=request.client_id, client_secret=request.client_secret)
            if isinstance(client, ClientAuthFailure):
                raise invalid_client(client.reason)
        raise OAuthError(
            "unsupported_grant_type",
            "Supported grants: client_credentials and urn:ietf:params:oauth:grant-type:token-exchange.",
        )
    return client_decided(
        request=request,
        decide=lambda client: _issue(client, request, remote_addr=remote_addr, request_id=request_id),
    )


def client_decided(
    *, request: TokenRequest, decide: Callable[[AuthenticatedClient], Decided | None]
) -> Decided:
    """Run a grant's `decide` for the client that authenticated, the way every grant must.

    A client this process has seen is decided from its cached credentials first; `decide` returns
    None when its audit row did not commit because the registry (or the signing key) changed since
    the client was read, and raises OAuthError to refuse. A refusal is never decided on the cache:
    then, and when the cache is stale, the client is read afresh, a few times if the registry keeps
    changing under the request. A client authenticating with private_key_jwt is decided the same way
    by `oauth.client_assertions.client_assertion_decided`.
    """
    if request.auth_method == "private_key_jwt":
        return client_assertion_decided(
            assertion=request.client_assertion, client_id=request.params.get("client_id"), decide=decide
        )
    cached = client_authenticate_cached(client_id=request.client_id, client_secret=request.client_secret)
    if cached is not None:
        try:
            decided = decide(cached)
        except OAuthError:
            decided = None  # a refusal is decided on fresh data, never on the cache
        if decided is not None:
            return decided
    for _ in range(_REGISTRY_RACE_ATTEMPTS):
        client = client_authenticate(client_id=request.client_id, client_secret=request.client_secret)
        if isinstance(client, ClientAuthFailure):
            raise invalid_client(client.reason)
        decided = decide(client)
        if decided is not None:
            return decided
    raise AuditWriteFailed("the registry kept changing while the request was being decided")


def _issue(
    client: AuthenticatedClient, request: TokenRequest, *, remote_addr: str | None, request_id: str
) -> IssuedToken | None:
    try:
        targets = token_targets_resolve(
            granted=client.granted, scopes=request.scopes, resources=request.resources
        )
    except OAuthError as refusal:
        # The client has authenticated, so its secret is real: never echoed, never recorded.
        raise refusal.without(request.client_secret) from None
    return token_issue(client=client, targets=targets, remote_addr=remote_addr, request_id=request_id)
