from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from keys.selectors import jwks_build, jwks_serialize


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """The public keys, with an ETag so verifiers can revalidate cheaply."""
    body, etag = jwks_serialize(jwks_build(now=timezone.now()))
    cache_control = f"public, max-age={settings.AUTHPORTAL_JWKS_MAX_AGE}"
    if etag in [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/jwk-set+json")
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response
