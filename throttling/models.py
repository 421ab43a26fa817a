"""What the throttling of /o/token keeps in the database: quotas set in the portal, keys over a limit."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TokenQuota(models.Model):
    """At most this many tokens per throttling window for one client (set in the portal)."""

    client = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="token_quota"
    )
    tokens_per_window = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.client_id}: {self.tokens_per_window} tokens per window"


class Throttle(models.Model):
    """A key (a presented client id, an address, a client's quota) that went over its limit.

    Written once per key and window, by the background thread of the process that saw it go over (never
    by the request). The portal lists those still in force and lifts them; every process clears its
    own counters for a lifted key within `LIFT_POLL_SECONDS`.
    """

    class Limit(models.TextChoices):
        CLIENT_FAILURES = "client_failures", "failed authentications of a client id"
        ADDRESS_FAILURES = "address_failures", "failed authentications from an address"
        TOKEN_QUOTA = "token_quota", "a client's token quota"

    limit = models.CharField(max_length=32, choices=Limit.choices)
    # The limiter's identifier: an HMAC of a presented client id (which may be a secret), or an address.
    key = models.CharField(max_length=64)
    # How the audit log names it: a registered client id, `unregistered:` + fingerprint, or an address.
    label = models.CharField(max_length=255)
    since = models.DateTimeField()
    until = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["until"], name="throttle_until")]

    def __str__(self) -> str:
        return f"{self.label} over {self.limit} until {self.until:%Y-%m-%d %H:%M:%S}"
