"""The admin API as a registered service: callers get its tokens like any other service's.

A CI pipeline authenticates with `client_credentials` for the audience `{issuer}/api` and the scopes
below, once an operator has granted them to its client.
"""

from __future__ import annotations

from django.db import transaction

from audit.actor import Actor
from clients.models import Scope, Service
from clients.services import ScopeSpec, scopes_add, service_register
from core.conf import app_settings

API_SERVICE_NAME = "authportal-api"
ADMIN_READ = "admin:read"
ADMIN_WRITE = "admin:write"
AUDIT_READ = "audit:read"
API_SCOPES = (
    ScopeSpec(ADMIN_READ, "Read the registry and the keys through /api/v1/ (what an auditor sees)"),
    ScopeSpec(ADMIN_WRITE, "Change the registry and the keys through /api/v1/ (what a security admin does)"),
    ScopeSpec(AUDIT_READ, "Search and export the audit log through /api/v1/audit/"),
)


def api_audience() -> str:
    return f"{app_settings.ISSUER}/api"


@transaction.atomic
def api_service_ensure(*, actor: Actor) -> tuple[Service, list[Scope]]:
    """Register the API service and its scopes if they are missing; nothing (and no audit row) if not.

    Returns the service and the scopes it added. Its audience follows the issuer: when
    AUTHPORTAL_ISSUER has changed, the old audience is refused by `clients` rules (an audience never
    changes), so this raises and the operator sees why.
    """
    service = Service.objects.filter(name=API_SERVICE_NAME).first()
    if service is None:
        service = service_register(
            name=API_SERVICE_NAME,
            audience=api_audience(),
            scopes=[],
            description="AuthPortal's own admin REST API (/api/v1/)",
            actor=actor,
        )
    elif service.audience != api_audience():
        raise ValueError(
            f"The service {API_SERVICE_NAME} has the audience {service.audience}, but the API now answers "
            f"to {api_audience()} (AUTHPORTAL_ISSUER changed): tokens for it would be refused."
        )
    have = set(Scope.objects.filter(service=service).values_list("name", flat=True))
    missing = [spec for spec in API_SCOPES if spec.name not in have]
    added = scopes_add(service=service, specs=missing, actor=actor) if missing else []
    return service, added
