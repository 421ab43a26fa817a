from django.urls import path

from oauth import views

app_name = "oauth"

urlpatterns = [
    path("o/token", views.token, name="token"),
    path("o/token/", views.token),
    path("o/revoke", views.revoke, name="revoke"),
    path("o/introspect", views.introspect, name="introspect"),
    path(".well-known/revocation-list", views.revocation_list, name="revocation_list"),
    path(".well-known/oauth-authorization-server", views.authorization_server_metadata, name="metadata"),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
]
