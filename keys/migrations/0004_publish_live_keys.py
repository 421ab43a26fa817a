"""Publish, once, the live keys of a database that has never published them (made before 0002).

A token is handed out only while its key is active *and* published (keys.selectors.
signing_key_usable_sql); a key stored before `published_at` existed would otherwise stop every token
until the first publication. Does what keys.services.jwks_publish does, on the historical models, and
nothing when every live key is already published.
"""

from django.db import migrations
from django.utils import timezone

from keys.selectors import jwks_serialize

LIVE = ("staged", "active", "retired")


def publish_live_keys(apps, schema_editor):
    SigningKey = apps.get_model("keys", "SigningKey")
    PublishedJwks = apps.get_model("keys", "PublishedJwks")
    live = SigningKey.objects.filter(state__in=LIVE)
    if not live.filter(published_at__isnull=True).exists():
        return
    now = timezone.now()
    keys = [
        key.public_jwk
        for key in live.order_by("created_at", "kid")
        if key.expires_at is None or now < key.expires_at
    ]
    body, etag = jwks_serialize({"keys": keys})
    PublishedJwks.objects.update_or_create(
        pk=1, defaults={"document": body.decode(), "etag": etag, "published_at": now}
    )
    live.filter(kid__in=[key["kid"] for key in keys], published_at__isnull=True).update(published_at=now)


class Migration(migrations.Migration):
    dependencies = [("keys", "0003_lifecycle_schedule")]

    operations = [migrations.RunPython(publish_live_keys, migrations.RunPython.noop)]
