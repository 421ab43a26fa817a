from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One thing that happened: a token issued or denied, a change to the registry or the keys.

    Rows are written by `audit.services.audit_record` in the same transaction as what they record,
    and never hold a secret, a token or a private key.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    occurred_at = models.DateTimeField()
    event = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    actor = models.CharField(max_length=255, blank=True, help_text="Portal user or client id")
    subject = models.CharField(max_length=255, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["occurred_at"], name="audit_occurred_at"),
            models.Index(fields=["event", "occurred_at"], name="audit_event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.event} {self.outcome} {self.actor}"
