"""Read models for the dashboard and the grant hints, rolled up from the audit log by a beat task.

Counting raw audit rows on every dashboard view stops being fast long before the audit log stops
growing; these tables hold one row per hour and audience, and one per client and scope.
"""

from __future__ import annotations

from django.db import models


class TokenUsageHour(models.Model):
    hour = models.DateTimeField()
    audience = models.CharField(max_length=255)
    issued = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "audience"], name="token_usage_hour_audience")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.audience} {self.issued}"


class ScopeUsage(models.Model):
    """When a client last received a token with a scope: the least-privilege hints read this."""

    client_id = models.CharField(max_length=255)
    scope = models.CharField(max_length=100)
    last_requested_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_id", "scope"], name="scope_usage_client_scope")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.scope} {self.last_requested_at:%Y-%m-%d}"
