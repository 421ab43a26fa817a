from django.urls import path

from portal.views import audit, auth, clients, dashboard, grants, keys, security, services, trusted_issuers

app_name = "portal"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("services/", services.service_list, name="service_list"),
    path("services/new/", services.service_create, name="service_create"),
    path("services/<int:pk>/", services.service_detail, name="service_detail"),
    path("services/<int:pk>/edit/", services.service_edit, name="service_edit"),
    path("services/<int:pk>/scopes/", services.scope_create, name="scope_create"),
    path("services/<int:pk>/scopes/<int:scope_pk>/delete/", services.scope_delete, name="scope_delete"),
    path("clients/", clients.client_list, name="client_list"),
    path("clients/new/", clients.client_create, name="client_create"),
    path("clients/<int:pk>/", clients.client_detail, name="client_detail"),
    path("clients/<int:pk>/edit/", clients.client_edit, name="client_edit"),
    path("clients/<int:pk>/disable/", clients.client_disable, name="client_disable"),
    path("clients/<int:pk>/grants/", clients.client_grants_add, name="client_grants_add"),
    path("clients/<int:pk>/enable/", clients.client_enable, name="client_enable"),
    path("clients/<int:pk>/delete/", clients.client_delete_view, name="client_delete"),
    path("clients/<int:pk>/rotate-secret/", clients.client_rotate_secret, name="client_rotate_secret"),
    path("grants/", grants.grant_matrix_view, name="grant_matrix"),
    path("grants/toggle/", grants.grant_toggle, name="grant_toggle"),
    path("keys/", keys.key_list, name="key_list"),
    path("keys/rotate/", keys.key_rotate_view, name="key_rotate"),
    path("keys/<str:kid>/revoke/", keys.key_revoke_view, name="key_revoke"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/export/", audit.audit_export, name="audit_export"),
    path("security/lockouts/", security.lockout_list, name="lockout_list"),
    path("security/lockouts/clear/", security.lockout_clear, name="lockout_clear"),
    path("trusted-issuers/", trusted_issuers.trusted_issuer_list, name="trusted_issuer_list"),
    path("trusted-issuers/new/", trusted_issuers.trusted_issuer_create, name="trusted_issuer_create"),
    path(
        "trusted-issuers/<int:pk>/remove/",
        trusted_issuers.trusted_issuer_delete,
        name="trusted_issuer_delete",
    ),
]
