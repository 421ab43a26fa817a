from django.urls import path

from keys import views

app_name = "keys"

urlpatterns = [
    path(".well-known/jwks.json", views.jwks, name="jwks"),
]
