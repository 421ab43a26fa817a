"""Reading a token request strictly (RFC 6749 §2.3.1, §3.2, §4.4; RFC 8707 §2)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from django.http import HttpRequest

from clients.validators import is_absolute_uri_without_fragment
from core.conf import app_settings
from oauth.client_assertions import ASSERTION_TYPE, AssertionRefused, assertion_client_id
from oauth.errors import (
    OAuthError,
    invalid_client,
    invalid_request,
    invalid_scope,
    invalid_target,
    method_check,
)

SINGLE_VALUED = (
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    # RFC 8693 §2.1 (token exchange); only `resource` and `audience` may repeat there.
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    # RFC 7521 §4.2 (private_key_jwt)
    "client_assertion",
    "client_assertion_type",
    # RFC 7009 §2.1, RFC 7662 §2.1
    "token",
    "token_type_hint",
)
MAX_FIELDS = 64
# RFC 6749 Appendix A.4: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {'"', "\\"}


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str
    client_id: str
    client_secret: str
    auth_method: str
    scopes: list[str] | None
    resources: list[str] | None
    # Every non-empty parameter given once, by name: what a grant other than client_credentials reads
    # (oauth/exchange.py). Repeats of the single-valued ones are refused above.
    params: dict[str, str] = field(default_factory=dict)
    # private_key_jwt: the signed assertion (oauth/client_assertions.py); "" for a secret.
    client_assertion: str = ""


@dataclass(frozen=True)
class ClientCredentials:
    """How a request authenticates its client: a secret (Basic or in the body) or an assertion."""

    client_id: str
    client_secret: str
    auth_method: str
    client_assertion: str = ""
    # The client_id parameter as sent, which an assertion's iss must equal (None: not sent).
    client_id_sent: str | None = None


@dataclass(frozen=True)
class ClientRequest:
    """A form POST from a client to an endpoint other than the token endpoint (RFC 7009 revocation,
    RFC 7662 introspection): its credentials and parameters, read as strictly as a token request."""

    credentials: ClientCredentials
    params: dict[str, str]


def client_request_parse(request: HttpRequest) -> ClientRequest:
    _params, values, credentials = _client_form(request)
    return ClientRequest(credentials=credentials, params=values)


def token_request_parse(request: HttpRequest) -> TokenRequest:
    """The token request as sent, or the OAuthError that refuses it; read once per request, so that the
    limits' look at who is calling (throttling/middleware.py) and the view share one reading (and, for
    an assertion, one decoding of it)."""
    parsed: TokenRequest | OAuthError | None = getattr(request, "_authportal_token_request", None)
    if parsed is None:
        try:
            parsed = _token_request_read(request)
        except OAuthError as refusal:
            parsed = refusal
        request._authportal_token_request = parsed  # type: ignore[attr-defined]  # ours, on Django's request
    if isinstance(parsed, OAuthError):
        raise parsed
    return parsed


def _token_request_read(request: HttpRequest) -> TokenRequest:
    params, values, credentials = _client_form(request)
    grant_type = values.get("grant_type")
    if grant_type is None:
        raise invalid_request("The grant_type parameter is missing.")
    return TokenRequest(
        grant_type=grant_type,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        auth_method=credentials.auth_method,
        scopes=_scopes(values.get("scope")),
        resources=_resources([value for name, value in params if name == "resource" and value != ""]),
        params=values,
        client_assertion=credentials.client_assertion,
    )


def _client_form(request: HttpRequest) -> tuple[list[tuple[str, str]], dict[str, str], ClientCredentials]:
    """A client's POST to one of our endpoints: its form's pairs as sent, its values (an empty value is
    an omitted one, RFC 6749 §3.1), and its credentials."""
    method_check(request, allowed=("POST",))
    if request.META.get("QUERY_STRING"):
        raise invalid_request("Parameters belong in the form-encoded request body, not in the URL.")
    params = _form_body(request)
    _refuse_repeats(params)
    values = {name: value for name, value in params if value != ""}
    return params, values, client_credentials_read(request, values)


def _form_body(request: HttpRequest) -> list[tuple[str, str]]:
    content_type, _, options = request.META.get("CONTENT_TYPE", "").partition(";")
    if content_type.strip().lower() != "application/x-www-form-urlencoded":
        raise invalid_request("The request body must be application/x-www-form-urlencoded.", status=415)
    charset = options.strip().lower()
    if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
        raise invalid_request("The request body must be UTF-8.", status=415)
    limit = app_settings.TOKEN_REQUEST_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise invalid_request("The Content-Length header is not a number.") from None
    if declared > limit:
        raise invalid_request(f"The request body is larger than {limit} bytes.", status=413)
    body = request.read(limit + 1)
    if len(body) > limit:
        raise invalid_request(f"The request body is larger than {limit} bytes.", status=413)
    try:
        return parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("The request body is not valid UTF-8 form encoding.") from None


def _refuse_repeats(params: list[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for name, _ in params:
        if name in SINGLE_VALUED:
            if name in seen:
                raise invalid_request(f"The {name} parameter is given more than once.")
            seen.add(name)


def client_credentials_read(request: HttpRequest, values: dict[str, str]) -> ClientCredentials:
    """Exactly one client authentication method: client_secret_basic, client_secret_post or
    private_key_jwt. Which client an assertion is from is read unverified here (for the audit row of a
    refusal); `oauth.client_assertions` verifies it."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if "client_assertion" in values or "client_assertion_type" in values:
        if header is not None or "client_secret" in values:
            raise invalid_request(
                "Use exactly one client authentication method: Basic, client_secret or client_assertion."
            )
        assertion = values.get("client_assertion", "")
        sent = values.get("client_id")
        client_id = sent if sent is not None else assertion_client_id(assertion)
        if values.get("client_assertion_type") != ASSERTION_TYPE:
            raise AssertionRefused("unsupported client_assertion_type")
        if not assertion:
            raise AssertionRefused("missing")
        return ClientCredentials(client_id, "", "private_key_jwt", assertion, sent)
    client_id, client_secret, method = _client_secret_credentials(request, header, values)
    return ClientCredentials(client_id, client_secret, method)


def _client_secret_credentials(
    request: HttpRequest, header: str | None, values: dict[str, str]
) -> tuple[str, str, str]:
    if header is not None:
        if "client_secret" in values:
            raise invalid_request(
                "Use exactly one client authentication method: Basic or client_secret, not both."
            )
        client_id, client_secret = basic_credentials(header)
        if "client_id" in values and values["client_id"] != client_id:
            raise invalid_request(
                "The client_id in the body differs from the one in the Authorization header."
            )
        return client_id, client_secret, "client_secret_basic"
    if "client_secret" in values:
        if "client_id" not in values:
            raise invalid_request("client_secret was given without client_id.")
        return values["client_id"], values["client_secret"], "client_secret_post"
    raise OAuthError(
        "invalid_client",
        "Client authentication is required: client_secret_basic, client_secret_post or private_key_jwt.",
        status=401,
        reason="no client authentication",
    )


def basic_credentials(header: str) -> tuple[str, str]:
    """The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1); OAuthError if malformed."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise invalid_client("unsupported authentication scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_client("malformed Basic credentials") from None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise invalid_client("malformed Basic credentials")
    # §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(client_secret)


def _scopes(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    tokens = [token for token in raw.split(" ") if token]
    if not tokens:
        return None
    for token in tokens:
        if not set(token) <= _SCOPE_TOKEN_CHARS:
            raise invalid_scope("The scope parameter holds characters RFC 6749 does not allow.")
    return list(dict.fromkeys(tokens))


def _resources(raw: list[str]) -> list[str] | None:
    if not raw:
        return None
    for resource in raw:
        if not is_absolute_uri_without_fragment(resource):
            raise invalid_target("Each resource must be an absolute URI without a fragment (RFC 8707).")
    return list(dict.fromkeys(raw))
