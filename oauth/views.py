from __future__ import annotations

import logging
from collections.abc import Callable

from django import db
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request as html_bad_request
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from clients.selectors import scope_names_all
from core.conf import app_settings
from core.http import AuthPortalRequest
from keys.selectors import jwks_published
from keys.services import jwks_publish
from keys.tokens import SigningUnavailable
from oauth.client_assertions import ALGORITHMS as ASSERTION_ALGORITHMS
from oauth.errors import (
    PROTOCOL_PATH_PREFIXES,
    OAuthError,
    json_no_store,
    oauth_error_response,
    protocol_endpoint,
    temporarily_unavailable,
)
from oauth.exchange import TOKEN_EXCHANGE_GRANT, ExchangedToken, token_exchange_grant
from oauth.requests import ClientRequest, client_request_parse, token_request_parse
from oauth.services import client_credentials_grant, token_denial_record
from oauth.token_status import (
    introspection_refusal_record,
    revocation_refusal_record,
    token_introspection,
    token_revocation_request,
)
from revocation.selectors import revocation_list_current

logger = logging.getLogger(__name__)

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


@csrf_exempt  # no cookies; token_request_parse answers a wrong method, so that its refusal has a row
def token(request: AuthPortalRequest) -> HttpResponse:
    remote_addr = request.META.get("REMOTE_ADDR")
    client_id = ""
    try:
        token_request = token_request_parse(request)
        client_id = token_request.client_id
        grant = (
            token_exchange_grant
            if token_request.grant_type == TOKEN_EXCHANGE_GRANT
            else client_credentials_grant
        )
        issued = grant(request=token_request, remote_addr=remote_addr, request_id=request.request_id)
    except OAuthError as error:
        # What a refused token exchange knew of the request (oauth/exchange.py), for its row.
        known = getattr(error, "audit_details", None)
        try:
            token_denial_record(
                error=error,
                client_id=client_id,
                remote_addr=remote_addr,
                request_id=request.request_id,
                extra=known,
            )
        except db.Error:
            # Every answer has its row: a refusal that cannot be recorded is not given either.
            logger.exception("token.denied could not be recorded")
            return oauth_error_response(temporarily_unavailable())
        return oauth_error_response(error)
    except (db.Error, SigningUnavailable):
        # No audit row, no token: the client may retry. db.Error, not DatabaseError: a connection
        # closed under us raises InterfaceError, which is not a DatabaseError.
        logger.exception("token request failed: the database or the signing key is unavailable")
        return oauth_error_response(temporarily_unavailable())
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    if isinstance(issued, ExchangedToken):
        body["issued_token_type"] = issued.issued_token_type  # RFC 8693 §2.2.1
    request.token_claims = issued.claims  # what the request's metrics and log say of it (monitoring/)
    return json_no_store(body)


def _client_endpoint(
    request: AuthPortalRequest,
    answer: Callable[[ClientRequest], HttpResponse],
    record_refusal: Callable[..., None],
) -> HttpResponse:
    """/o/revoke and /o/introspect: a client's form POST, authenticated as at the token endpoint; every
    refusal recorded (or, when it cannot be, not given: 503)."""
    remote_addr = request.META.get("REMOTE_ADDR")
    client_id = ""
    try:
        parsed = client_request_parse(request)
        client_id = parsed.credentials.client_id
        return answer(parsed)
    except OAuthError as error:
        try:
            record_refusal(
                error=error, client_id=client_id, remote_addr=remote_addr, request_id=request.request_id
            )
        except db.Error:
            logger.exception("%s: the refusal could not be recorded", request.path)
            return oauth_error_response(temporarily_unavailable())
        return oauth_error_response(error)
    except (db.Error, SigningUnavailable):
        logger.exception("%s failed: the database or the signing key is unavailable", request.path)
        return oauth_error_response(temporarily_unavailable())


@csrf_exempt
def revoke(request: AuthPortalRequest) -> HttpResponse:
    """RFC 7009: 200 with an empty body once the token is revoked, or was nothing to revoke."""

    def answer(parsed: ClientRequest) -> HttpResponse:
        token_revocation_request(
            request=parsed, remote_addr=request.META.get("REMOTE_ADDR"), request_id=request.request_id
        )
        response = HttpResponse(status=200)
        response["Cache-Control"] = "no-store"
        return response

    return _client_endpoint(request, answer, revocation_refusal_record)


@csrf_exempt
def introspect(request: AuthPortalRequest) -> HttpResponse:
    """RFC 7662: the token's state for a caller whose service it is addressed to."""

    def answer(parsed: ClientRequest) -> HttpResponse:
        return json_no_store(
            token_introspection(
                request=parsed, remote_addr=request.META.get("REMOTE_ADDR"), request_id=request.request_id
            )
        )

    return _client_endpoint(request, answer, introspection_refusal_record)


@protocol_endpoint(methods=("GET", "HEAD"))
def revocation_list(request: AuthPortalRequest) -> HttpResponse:
    """The signed revocation list, published like the JWKS: Cache-Control max-age, a strong ETag, 304."""
    now = timezone.now()
    try:
        current = revocation_list_current(now=now)
        if current.etag in [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]:
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(current.signed(now=now), content_type="application/jwt")
    except SigningUnavailable:
        logger.exception("the revocation list cannot be signed")
        return oauth_error_response(temporarily_unavailable())
    response["ETag"] = current.etag
    response["Cache-Control"] = f"public, max-age={app_settings.REVOCATION_LIST_MAX_AGE}"
    return response


@protocol_endpoint(methods=("GET", "HEAD"))
def authorization_server_metadata(request: HttpRequest) -> HttpResponse:
    """RFC 8414 metadata. Every URL is built from the configured issuer, never from the Host header."""
    issuer = app_settings.ISSUER
    metadata = {
        "issuer": issuer,
        "token_endpoint": issuer + reverse("oauth:token"),
        "jwks_uri": issuer + reverse("oauth:jwks"),
        "revocation_endpoint": issuer + reverse("oauth:revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint": issuer + reverse("oauth:introspect"),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        # Not registered in RFC 8414: where verifiers fetch the signed list of revoked tokens.
        "revocation_list_uri": issuer + reverse("oauth:revocation_list"),
        "grant_types_supported": ["client_credentials", TOKEN_EXCHANGE_GRANT],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "response_types_supported": [],
        "scopes_supported": scope_names_all(),
    }
    response = JsonResponse(metadata)
    response["Cache-Control"] = f"public, max-age={app_settings.JWKS_MAX_AGE}"
    return response


@protocol_endpoint(methods=("GET", "HEAD"))
def jwks(request: HttpRequest) -> HttpResponse:
    """The published public keys, with an ETag so verifiers can revalidate cheaply."""
    published = jwks_published()
    if published is None:  # a brand-new installation: publish what there is (maybe nothing yet)
        with transaction.atomic():
            row = jwks_publish(now=timezone.now())
        published = (row.document.encode(), row.etag)
    body, etag = published
    if etag in [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/jwk-set+json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={app_settings.JWKS_MAX_AGE}"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Protocol paths answer JSON even when nothing is there."""
    if request.path.startswith(PROTOCOL_PATH_PREFIXES):
        return json_no_store(
            {"error": "invalid_request", "error_description": "No such endpoint."}, status=404
        )
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django refuses before any view (an unknown Host, say) still gets RFC 6749 JSON here."""
    if request.path.startswith(PROTOCOL_PATH_PREFIXES):
        return json_no_store({"error": "invalid_request", "error_description": "Bad request."}, status=400)
    return html_bad_request(request, exception or Exception("Bad request"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW. Protocol views are exempt (they use no cookies); should one ever be checked,
    its caller still gets RFC 6749 JSON rather than Django's HTML page."""
    if request.path.startswith(PROTOCOL_PATH_PREFIXES):
        return json_no_store(
            {"error": "invalid_request", "error_description": "Cross-site request check failed."}, status=403
        )
    return html_csrf_failure(request, reason)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(PROTOCOL_PATH_PREFIXES):
        return json_no_store({"error": "server_error", "error_description": "Internal error."}, status=500)
    return html_server_error(request)
