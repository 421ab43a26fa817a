from __future__ import annotations

from django.http import HttpRequest

from portal.roles import role_of


def portal_role(request: HttpRequest) -> dict[str, str | None]:
    user = getattr(request, "user", None)
    return {"portal_role": role_of(user) if user is not None else None}
