"""RFC 8693 token exchange at /o/token: a service trades a token sent to it for one to the next service.

`ms_orders`, called by `ms_admin`, holds a token whose `aud` is its own. To call `ms_payments` on
`ms_admin`'s behalf it authenticates as itself (the actor) and sends that token as `subject_token`
with `resource` naming `ms_payments`. The edge `ms_orders -> ms_payments` must be declared
(clients.DelegationEdge); the new token keeps the original `sub`, names the actor in `client_id`,
nests every actor so far in `act` (RFC 8693 §4.1, nearest outermost), carries one transaction id
`txn` (RFC 8417) from the first hop to the last, and never outlives the subject token.

The first hop may start from a user instead: a gateway holding a user's token from a trusted issuer
sends it with subject_token_type `...:jwt`. It is verified by `external_subject_verify`; the new
token's `sub` is the user (`user:<slug>:<user id>`), its `act` chain starts with the gateway, its
`txn` is new, and its scopes are those the edge maps from USERS_UPSTREAM (`@user`), since the user's
token carries no scope of ours.

Refusals follow RFC 8693 §2.2.2: `invalid_request` for a subject token that is invalid or not
acceptable (signature, expiry, audience, depth, cycle), `invalid_target` for an undeclared edge,
`invalid_scope`, `unauthorized_client` for a client that represents no service; a trusted issuer
whose keys cannot be read is `temporarily_unavailable` (503). Each is a
`token.denied` row with a precise reason and what was known of the exchange.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authportal_client.compact import COMPACT_JWS, access_token_header, audiences_of, is_number, json_object
from django.utils import timezone
from jwcrypto.common import base64url_decode
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWSCore

from clients.external_subjects import ExternalKeysUnavailable, ExternalTokenError, external_subject_verify
from clients.models import USERS_UPSTREAM
from clients.selectors import (
    AuthenticatedClient,
    CallGraph,
    ExchangeEdge,
    call_graph,
)
from core.conf import app_settings
from core.ids import random_id
from keys.selectors import signing_key_published
from oauth.errors import OAuthError
from oauth.requests import TokenRequest
from oauth.services import access_token_claims, client_decided, token_sign_recorded

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"

MAX_SUBJECT_TOKEN_BYTES = 8192
# However deep an edge allows, an `act` nesting deeper than this is not one of ours.
MAX_ACT_NESTING = 10
MAX_TXN_LENGTH = 64
_ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})


class ExchangeRefused(OAuthError):
    """A refusal of a token exchange; `audit_details` is what the `token.denied` row adds."""

    def __init__(self, error: str, description: str, *, reason: str | None = None, status: int = 400) -> None:
        super().__init__(error, description, reason=reason, status=status)
        self.audit_details: dict[str, Any] = {}


def _refuse_subject(reason: str) -> ExchangeRefused:
    # The client learns that its subject token was refused and why in general terms; the row says why.
    return ExchangeRefused(
        "invalid_request",
        f"The subject_token is not acceptable: {reason}.",
        reason=f"subject token: {reason}",
    )


@dataclass(frozen=True)
class SubjectToken:
    """The verified claims of a subject token that matter to the exchange."""

    sub: str
    client_id: str
    scopes: tuple[str, ...]
    exp: int
    jti: str
    txn: str | None
    act: dict[str, Any] | None
    actor_chain: tuple[str, ...]  # client ids of the actors so far, nearest first
    issuer: str | None = None  # a trusted issuer's, for a user token (subject_token_type ...:jwt)


@dataclass(frozen=True)
class ExchangedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str
    txn: str
    claims: dict[str, Any]  # as signed, but iss: for the request's metrics and log, not read back
    issued_token_type: str = ACCESS_TOKEN_TYPE


# --- verifying the subject token ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    jwk: JWK
    algorithm: str
    checked_until: float


# How long a process trusts that a subject token's key is still published (not revoked).
PUBLISHED_KEY_RECHECK_SECONDS = 5

_keys_lock = threading.Lock()
_keys: dict[str, _Key] = {}
_KEYS_MAX = 64


def _published_key(kid: str, now: datetime) -> _Key | None:
    """A key of our JWKS by kid, parsed once; its state is re-read as often as the signer's is.

    A revoked key stops being accepted within PUBLISHED_KEY_RECHECK_SECONDS in every process: reading
    its state on every exchange would double an exchange's database round trips.
    """
    cached = _keys.get(kid)
    if cached is not None and cached.checked_until > time.monotonic():
        return cached
    key = signing_key_published(kid=kid, now=now)
    with _keys_lock:
        if key is None:
            _keys.pop(kid, None)
            return None
        if len(_keys) >= _KEYS_MAX:
            _keys.clear()
        jwk = cached.jwk if cached is not None else JWK(**key.public_jwk)
        entry = _Key(jwk, key.algorithm, time.monotonic() + PUBLISHED_KEY_RECHECK_SECONDS)
        _keys[kid] = entry
        return entry


def exchange_key_cache_clear() -> None:
    with _keys_lock:
        _keys.clear()


def subject_token_verify(*, token: str, audience: str, now: datetime) -> SubjectToken:
    """Verify an access token of ours as strictly as the SDK's Verifier, for the service at `audience`.

    Signed by a key of our JWKS (not revoked, not expired) with that key's algorithm, `typ` at+jwt,
    our `iss`, `aud` containing `audience` (a service exchanges only tokens sent to it), not expired.
    """
    if len(token) > MAX_SUBJECT_TOKEN_BYTES:
        raise _refuse_subject("too large")
    if not token.isascii() or COMPACT_JWS.fullmatch(token) is None:
        raise _refuse_subject("not a JWS in compact form")
    encoded_header, encoded_payload, encoded_signature = token.split(".")
    try:
        algorithm, kid = access_token_header(encoded_header, algorithms=_ALGORITHMS, max_kid_length=64)
    except ValueError as why:
        raise _refuse_subject(str(why)) from None
    key = _published_key(kid, now)
    if key is None:
        raise _refuse_subject("not signed by a published key of ours (unknown, revoked or expired kid)")
    if key.algorithm != algorithm:
        raise _refuse_subject("algorithm does not match the key")
    try:
        payload = base64url_decode(encoded_payload)
        # The header text re-encodes to the same canonical segment, so this is the signed input.
        core = JWSCore(
            algorithm, key.jwk, base64url_decode(encoded_header).decode("utf-8"), payload, [algorithm]
        )
        core.verify(base64url_decode(encoded_signature))
    except Exception:  # noqa: BLE001 (jwcrypto raises several kinds; all mean the same here)
        raise _refuse_subject("bad signature") from None
    try:
        claims = json_object(encoded_payload)
    except (ValueError, RecursionError):
        raise _refuse_subject("malformed claims") from None
    return _subject_claims(claims, audience=audience, now=now.timestamp())


def _subject_claims(claims: dict[str, Any], *, audience: str, now: float) -> SubjectToken:
    if type(claims.get("iss")) is not str or claims["iss"] != app_settings.ISSUER:
        raise _refuse_subject("another issuer")
    try:
        audiences = audiences_of(claims)
    except ValueError as why:
        raise _refuse_subject(str(why)) from None
    if audience not in audiences:
        raise _refuse_subject("wrong audience: it was not sent to the service this client represents")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not is_number(expires) or not is_number(issued):
        raise _refuse_subject("missing or malformed exp or iat")
    if expires <= now:
        raise _refuse_subject("expired")
    if issued > now + 30 or expires - issued > app_settings.TOKEN_LIFETIME_MAX:
        raise _refuse_subject("issued in the future or lifetime longer than allowed")
    sub, client_id, jti, scope = (claims.get(name) for name in ("sub", "client_id", "jti", "scope"))
    if type(sub) is not str or not sub or type(client_id) is not str or not client_id or type(jti) is not str:
        raise _refuse_subject("missing sub, client_id or jti")
    if type(scope) is not str:
        raise _refuse_subject("malformed scope")
    txn = claims.get("txn")
    if txn is not None and (
        type(txn) is not str or not 0 < len(txn) <= MAX_TXN_LENGTH or not txn.isprintable()
    ):
        raise _refuse_subject("malformed txn")
    act = claims.get("act")
    chain = _actor_chain(act)
    if chain and chain[0] != client_id:
        raise _refuse_subject("its nearest actor is not its client_id")
    return SubjectToken(
        sub=sub,
        client_id=client_id,
        scopes=tuple(dict.fromkeys(scope.split())),
        exp=int(expires),
        jti=jti,
        txn=txn,
        act=act,
        actor_chain=chain,
    )


def _actor_chain(act: Any) -> tuple[str, ...]:
    chain: list[str] = []
    while act is not None:
        if type(act) is not dict or type(act.get("sub")) is not str or not act["sub"]:
            raise _refuse_subject("malformed act")
        chain.append(act["sub"])
        if len(chain) > MAX_ACT_NESTING:
            raise _refuse_subject("act nested too deep")
        act = act.get("act")
    return tuple(chain)


# --- the exchange -------------------------------------------------------------------------------------


def token_exchange_grant(
    *, request: TokenRequest, remote_addr: str | None, request_id: str
) -> ExchangedToken:
    """The whole exchange after the request has been read; ExchangeRefused (an OAuthError) on refusal.

    As for client_credentials, a client this process has seen is decided from its cached
    credentials, and the audit INSERT commits only if the registry (clients, services, edges…) has
    not changed since they were read; a refusal is always decided on a fresh read.
    """
    return client_decided(
        request=request,
        decide=lambda client: _exchange(client, request, remote_addr=remote_addr, request_id=request_id),
    )


def _exchange(
    client: AuthenticatedClient, request: TokenRequest, *, remote_addr: str | None, request_id: str
) -> ExchangedToken | None:
    known: dict[str, Any] = {"grant_type": "token-exchange"}
    try:
        return _decide_and_issue(client, request, known, remote_addr=remote_addr, request_id=request_id)
    except ExchangeRefused as refusal:
        refusal.audit_details = known
        raise


def _parameters(request: TokenRequest) -> tuple[str, str, str]:
    """The subject token, its type and the one resource, or the invalid_request for what is missing or
    refused."""
    params = request.params
    token_type = params.get("subject_token_type")
    if "subject_token" not in params or token_type is None:
        raise ExchangeRefused("invalid_request", "subject_token and subject_token_type are required.")
    if token_type not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise ExchangeRefused(
            "invalid_request",
            f"subject_token_type must be {ACCESS_TOKEN_TYPE} (ours) or {JWT_TOKEN_TYPE} (a trusted issuer's).",
        )
    if params.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise ExchangeRefused("invalid_request", f"requested_token_type can only be {ACCESS_TOKEN_TYPE}.")
    if "actor_token" in params or "actor_token_type" in params:
        raise ExchangeRefused(
            "invalid_request", "actor_token is not supported: the authenticated client is the actor."
        )
    if "audience" in params:
        raise ExchangeRefused(
            "invalid_request", "Name the next service with resource (RFC 8707), not audience."
        )
    if not request.resources:
        raise ExchangeRefused(
            "invalid_request", "resource is required: the audience of the service to call next."
        )
    if len(request.resources) > 1:
        raise ExchangeRefused("invalid_target", "A token exchange names exactly one resource.")
    return params["subject_token"], token_type, request.resources[0]


def _decide_and_issue(
    client: AuthenticatedClient,
    request: TokenRequest,
    known: dict[str, Any],
    *,
    remote_addr: str | None,
    request_id: str,
) -> ExchangedToken | None:
    subject_token, token_type, resource = _parameters(request)
    now = timezone.now()
    graph = call_graph(version=client.registry_version)
    if graph is None:
        return None  # the registry changed since the client was read: decide anew
    hop = graph.hop(client_pk=client.pk, resource=resource)
    if hop.actor_service is None or hop.actor_audience is None:
        raise ExchangeRefused(
            "unauthorized_client",
            "This client represents no service, so it cannot act for anyone.",
            reason="the client represents no service",
        )
    if token_type == JWT_TOKEN_TYPE:
        subject = _user_subject(token=subject_token, now=now)
        known.update(issuer=subject.issuer)
    else:
        subject = subject_token_verify(token=subject_token, audience=hop.actor_audience, now=now)
    known.update(
        sub=subject.sub, subject_jti=subject.jti or None, actor_chain=[client.client_id, *subject.actor_chain]
    )
    if subject.txn:
        known["txn"] = subject.txn
    if hop.target_service is None:
        raise ExchangeRefused("invalid_target", f"The resource {resource} is not a registered service.")
    known["edge"] = hop.edge_label
    if not hop.declared:
        raise ExchangeRefused(
            "invalid_target",
            f"{hop.actor_service} may not call {hop.target_service} on behalf of others: no such edge is declared.",
            reason=f"edge {hop.edge_label} is not declared",
        )
    if not hop.enabled:
        raise ExchangeRefused(
            "invalid_target",
            f"The edge {hop.edge_label} is disabled.",
            reason=f"edge {hop.edge_label} is disabled",
        )
    chain = (client.client_id, *subject.actor_chain)
    if len(chain) > hop.max_depth:
        raise ExchangeRefused(
            "invalid_request",
            f"The actor chain would be {len(chain)} deep; the edge {hop.edge_label} allows {hop.max_depth}.",
            reason=f"chain too deep: {len(chain)} actors, edge {hop.edge_label} allows {hop.max_depth}",
        )
    _refuse_cycles(subject, chain, hop, graph)
    scopes = _scopes(hop, subject, request.scopes)
    txn = subject.txn or random_id(16)
    known["txn"] = txn
    return _issue(
        client=client,
        subject=subject,
        hop=hop,
        resource=resource,
        scopes=scopes,
        txn=txn,
        now=now,
        remote_addr=remote_addr,
        request_id=request_id,
    )


def _user_subject(*, token: str, now: datetime) -> SubjectToken:
    """A trusted issuer's user token as a subject: the user, no actor yet, no txn, and the one
    pseudo-scope USERS_UPSTREAM, so that only an edge mapping `@user` gives it any scope of ours.

    The refusal's row has the verifier's reason code; its message is fixed text, never the token.
    """
    try:
        user = external_subject_verify(token=token, now=now)
    except ExternalKeysUnavailable as error:
        # The token may be good: the client should retry, not give up on it.
        raise ExchangeRefused(
            "temporarily_unavailable",
            "The subject token's issuer cannot be reached; retry shortly.",
            reason=f"subject token: {error.reason}",
            status=503,
        ) from None
    except ExternalTokenError as error:
        raise ExchangeRefused(
            "invalid_request",
            f"The subject_token is not acceptable: {error}",
            reason=f"subject token: {error.reason}",
        ) from None
    expires = int(user.expires_at.timestamp())
    if expires <= now.timestamp():  # within the verifier's leeway, but no lifetime left to give
        raise _refuse_subject("expired")
    jti = user.claims.get("jti")
    return SubjectToken(
        sub=user.subject,
        client_id="",
        scopes=(USERS_UPSTREAM,),
        exp=expires,
        jti=jti if type(jti) is str and 0 < len(jti) <= 255 and jti.isprintable() else "",
        txn=None,
        act=None,
        actor_chain=(),
        issuer=user.issuer,
    )


def _refuse_cycles(
    subject: SubjectToken, chain: tuple[str, ...], hop: ExchangeEdge, graph: CallGraph
) -> None:
    """No client, and no service, twice along the way from the original caller to the target."""
    repeated = next((actor for index, actor in enumerate(chain) if actor in chain[index + 1 :]), None)
    if repeated is not None:
        raise ExchangeRefused(
            "invalid_request",
            "The actor chain is cyclic: a client would act twice.",
            reason=f"cycle: client {repeated} appears twice in the chain",
        )
    services_of = graph.services_of([subject.sub, *subject.actor_chain])
    # Oldest first: the original caller's service, each earlier actor's, this actor's, the target.
    path = [services_of.get(subject.sub), *(services_of.get(a) for a in reversed(subject.actor_chain))]
    path += [hop.actor_service, hop.target_service]
    seen: set[str] = set()
    for service in path:
        if service is None:
            continue
        if service in seen:
            raise ExchangeRefused(
                "invalid_request",
                f"The call chain is cyclic: the service {service} appears twice.",
                reason=f"cycle: service {service} appears twice in the chain",
            )
        seen.add(service)


def _scopes(hop: ExchangeEdge, subject: SubjectToken, requested: list[str] | None) -> list[str]:
    allowed: dict[str, None] = {}
    for upstream in subject.scopes:
        for downstream in hop.scope_map.get(upstream, ()):
            if downstream in hop.target_scopes:
                allowed[downstream] = None
    if requested is None:
        if not allowed:
            raise ExchangeRefused(
                "invalid_scope",
                f"The edge {hop.edge_label} allows no scope for the subject token's scopes.",
                reason=f"edge {hop.edge_label} maps none of {' '.join(subject.scopes) or 'no scopes'}",
            )
        return sorted(allowed)
    for scope in requested:
        if scope not in allowed:
            raise ExchangeRefused(
                "invalid_scope",
                f"The scope {scope} is not allowed by the edge {hop.edge_label} for the subject token's scopes.",
            )
    return requested


def _issue(
    *,
    client: AuthenticatedClient,
    subject: SubjectToken,
    hop: ExchangeEdge,
    resource: str,
    scopes: list[str],
    txn: str,
    now: datetime,
    remote_addr: str | None,
    request_id: str,
) -> ExchangedToken | None:
    """Sign the exchanged token and commit its `token.exchanged` row before it is handed out.

    None, and no row, when the registry changed since `client` was read (as for token_issue).
    """
    scope = " ".join(scopes)
    act: dict[str, Any] = {"sub": client.client_id}
    if subject.act is not None:
        act["act"] = subject.act
    # Never outlives its subject token.
    claims = access_token_claims(client, sub=subject.sub, aud=resource, scope=scope, now=now, exp=subject.exp)
    claims |= {"act": act, "txn": txn}
    jti = claims["jti"]
    access_token = token_sign_recorded(
        client=client,
        event="token.exchanged",
        claims=claims,
        details={
            "client": client.name,
            "sub": subject.sub,
            "actor_chain": [client.client_id, *subject.actor_chain],
            "edge": hop.edge_label,
            "audiences": [resource],
            "scopes": scopes,
            "txn": txn,
            **({"issuer": subject.issuer} if subject.issuer else {}),
            "subject_jti": subject.jti or None,
            "jti": jti,
        },
        now=now,
        remote_addr=remote_addr,
        request_id=request_id,
    )
    if access_token is None:
        return None
    return ExchangedToken(
        access_token=access_token,
        expires_in=max(claims["exp"] - claims["iat"], 0),
        scope=scope,
        jti=jti,
        txn=txn,
        claims=claims,
    )
