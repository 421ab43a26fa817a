from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from api.authentication import READ, WRITE, rights_of

if TYPE_CHECKING:  # a real import would be circular: DRF reads its settings as it loads
    from rest_framework.views import APIView

RIGHT_NEEDS = {
    "read": "a security admin or an auditor, or a token with admin:read",
    "write": "a security admin, or a token with admin:write",
    "audit": "a security admin or an auditor, or a token with audit:read",
}


class HasRight(BasePermission):
    """Reads need the view's `read_right` (READ unless it says AUDIT); every other method WRITE."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise NotAuthenticated()
        needed = getattr(view, "read_right", READ) if request.method in SAFE_METHODS else WRITE
        if needed not in rights_of(request):
            raise PermissionDenied(f"This needs {RIGHT_NEEDS[needed]}.")
        return True
