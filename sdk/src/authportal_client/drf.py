"""Django REST framework: `BearerTokenAuthentication` and the `HasScope` permission.

    class DoctorList(APIView):
        authentication_classes = [BearerTokenAuthentication]
        permission_classes = [HasScope("doctors:read")]

    class Charge(APIView):
        permission_classes = [Requires(scope="payments:charge", via=[ORDERS_CLIENT_ID])]

`request.user` is a `ServicePrincipal` (the calling client), `request.auth` its `Claims`. Settings
as for `authportal_client.django` (AUTHPORTAL_CLIENT); the middleware is not needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission

from authportal_client.bearer import Denial, Requirement, bearer_token, insufficient_scope, invalid_token
from authportal_client.claims import Claims
from authportal_client.django import get_verifier, realm
from authportal_client.errors import InvalidToken
from authportal_client.verifier import Verifier


class ServicePrincipal:
    """The calling service, as DRF's `request.user`: authenticated, never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, claims: Claims):
        self.claims = claims
        self.client_id = claims.client_id
        self.pk = claims.client_id  # DRF's throttles key on it

    def __str__(self) -> str:
        return self.client_id


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer` with a token our Verifier accepts: `request.user` the calling client,
    `request.auth` the token's Claims. A subclass may verify with another Verifier (`verifier()`), check
    more of the claims or name the caller otherwise (`principal()`, raising AuthenticationFailed to
    refuse), and word the refusal (`refusal`, `{}` the reason)."""

    refusal = "{}"

    def verifier(self) -> Verifier:
        return get_verifier()

    def principal(self, claims: Claims) -> Any:
        return ServicePrincipal(claims)

    def authenticate(self, request: Any) -> tuple[Any, Claims] | None:
        token = bearer_token(get_authorization_header(request).decode("latin-1"))
        if token is None:
            return None
        try:
            claims = self.verifier().verify(token)
        except InvalidToken as error:
            request._authportal_error = str(error)  # for the challenge below
            raise AuthenticationFailed(self.refusal.format(error)) from None
        return self.principal(claims), claims

    def authenticate_header(self, request: Any) -> str:
        error = getattr(request, "_authportal_error", None)
        if error is None:
            return f'Bearer realm="{realm()}"'
        return invalid_token(realm(), error).www_authenticate


class InsufficientScope(PermissionDenied):
    default_code = "insufficient_scope"

    def __init__(self, scopes: tuple[str, ...]):
        denial = insufficient_scope(realm(), scopes)
        super().__init__(denial.description, code="insufficient_scope")
        self.auth_header = denial.www_authenticate  # DRF's exception handler sends it as WWW-Authenticate


class HasScope(BasePermission):
    """`permission_classes = [HasScope("doctors:read")]`: the token must carry every scope named."""

    def __init__(self, *scopes: str):
        self.scopes = scopes

    def __call__(self) -> HasScope:  # DRF instantiates permission_classes; an instance stands for itself
        return self

    def has_permission(self, request: Any, view: Any) -> bool:
        claims = request.auth
        if not isinstance(claims, Claims):
            return False  # DRF answers 401 with our challenge when no token authenticated
        if not claims.has_scopes(*self.scopes):
            raise InsufficientScope(self.scopes)
        return True


class NotVia(PermissionDenied):
    default_code = "access_denied"

    def __init__(self, denial: Denial):
        super().__init__(denial.description, code="access_denied")
        self.auth_header = denial.www_authenticate


class Requires(BasePermission):
    """`permission_classes = [Requires(scope="payments:charge", via=[ORDERS_CLIENT_ID])]`: every scope,
    and when `via` is given exactly that actor chain, nearest first (`via=[]`: direct calls only)."""

    def __init__(self, *, scope: str | Iterable[str] = (), via: Iterable[str] | None = None):
        self.requirement = Requirement.of(scope=scope, via=via)

    def __call__(self) -> Requires:
        return self

    def has_permission(self, request: Any, view: Any) -> bool:
        claims = request.auth
        if not isinstance(claims, Claims):
            return False
        outcome = self.requirement.check(claims, realm=realm())
        if isinstance(outcome, Denial):
            if outcome.error == "insufficient_scope":
                raise InsufficientScope(self.requirement.scopes)
            raise NotVia(outcome)
        return True
