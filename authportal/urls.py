from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("oauth.urls")),
    path("", include("keys.urls")),
    path("", include("portal.urls")),
    path("django-admin/", admin.site.urls),
]

handler400 = "oauth.views.bad_request"
handler404 = "oauth.views.not_found"
handler500 = "oauth.views.server_error"
