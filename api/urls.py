from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.problems import api_not_found
from api.views import audit, clients, graph, keys, services

app_name = "api"

v1 = [
    path("services/", services.ServiceList.as_view(), name="service_list"),
    path("services/<str:name>/", services.ServiceDetail.as_view(), name="service_detail"),
    path("services/<str:name>/scopes/", services.ServiceScopes.as_view(), name="service_scopes"),
    path("services/<str:name>/scopes/<str:scope>/", services.ServiceScope.as_view(), name="service_scope"),
    path("clients/", clients.ClientList.as_view(), name="client_list"),
    path("clients/<str:client_id>/", clients.ClientDetail.as_view(), name="client_detail"),
    path("clients/<str:client_id>/secret/", clients.ClientSecret.as_view(), name="client_secret"),
    path("clients/<str:client_id>/grants/", clients.ClientGrants.as_view(), name="client_grants"),
    path("clients/<str:client_id>/grants/<str:scope>/", clients.ClientGrant.as_view(), name="client_grant"),
    path("edges/", graph.EdgeList.as_view(), name="edge_list"),
    path("edges/<str:from_service>/<str:to_service>/", graph.EdgeDetail.as_view(), name="edge_detail"),
    path("trusted-issuers/", graph.TrustedIssuerList.as_view(), name="trusted_issuer_list"),
    path("trusted-issuers/<str:slug>/", graph.TrustedIssuerDetail.as_view(), name="trusted_issuer_detail"),
    path("keys/", keys.KeyList.as_view(), name="key_list"),
    path("keys/rotate/", keys.KeyRotate.as_view(), name="key_rotate"),
    path("keys/<str:kid>/revoke/", keys.KeyRevoke.as_view(), name="key_revoke"),
    path("audit/events/", audit.AuditEventList.as_view(), name="audit_events"),
    path("audit/export/", audit.AuditExport.as_view(), name="audit_export"),
]

urlpatterns = [
    path("api/v1/", include(v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: our CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
]
