from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from keys.selectors import jwks_published
from keys.services import jwks_publish
from oauth.errors import protocol_endpoint


@protocol_endpoint(methods=("GET", "HEAD"))
def jwks(request: HttpRequest) -> HttpResponse:
    """The published public keys, with an ETag so verifiers can revalidate cheaply."""
    published = jwks_published()
    if published is None:  # a brand-new installation: publish what there is (maybe nothing yet)
        with transaction.atomic():
            row = jwks_publish(now=timezone.now())
        published = (row.document.encode(), row.etag)
    body, etag = published
    if etag in [tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/jwk-set+json")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={settings.AUTHPORTAL_JWKS_MAX_AGE}"
    return response
