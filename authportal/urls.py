from django.urls import include, path

urlpatterns = [
    path("", include("oauth.urls")),
    path("", include("api.urls")),
    path("", include("portal.urls")),
    path("", include("monitoring.urls")),
]

handler400 = "oauth.views.bad_request"
handler404 = "oauth.views.not_found"
handler500 = "oauth.views.server_error"
