from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KeyTextTransform


class AuditEvent(models.Model):
    """One thing that happened: a token issued or denied, a change to the registry or the keys.

    Rows are written by `audit.recording.audit_record` in the same transaction as what they record,
    and never hold a secret, a token or a private key. They are append-only: only the retention purge
    deletes them (on PostgreSQL a trigger refuses any other UPDATE or DELETE), and `audit_seal` chains
    and signs them into `AuditCheckpoint`s so that an edit, an insertion or a deletion shows.
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
        # One index per search filter, each ending in (occurred_at, id): the portal pages newest first
        # by that key (keyset pagination), so a filtered page is one index range scan at any table size.
        # Failures are few: a partial index serves the outcome filter without taxing every insert.
        indexes = [
            models.Index(fields=["occurred_at", "id"], name="audit_time_id"),
            models.Index(fields=["event", "occurred_at", "id"], name="audit_event_time_id"),
            models.Index(fields=["actor", "occurred_at", "id"], name="audit_actor_time_id"),
            models.Index(fields=["subject", "occurred_at", "id"], name="audit_subject_time_id"),
            models.Index(
                fields=["occurred_at", "id"], condition=Q(outcome="failure"), name="audit_failure_time_id"
            ),
            # Following one delegated request across its hops: only the rows that carry a txn.
            models.Index(
                KeyTextTransform("txn", "details"),
                F("occurred_at"),
                F("id"),
                condition=Q(details__has_key="txn"),
                name="audit_txn_time_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.event} {self.outcome} {self.actor}"


class AuditCheckpoint(models.Model):
    """A signed seal over the events written since the previous checkpoint.

    The events it covers are the ids `first_id..last_id` minus `gaps` (ids not committed when it was
    sealed: rolled back, or still in flight) plus `late_ids` (ids from an earlier checkpoint's gaps
    that committed later). `head` = SHA-256 chain over `prev_head` and each event's leaf hash in id
    order; `jws` signs every field below except the stored leaves, which it covers through `head`.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    sealed_at = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    gaps = models.JSONField(default=list, blank=True, help_text="[[lo, hi], …] ids missing when sealed")
    late_ids = models.JSONField(default=list, blank=True)
    event_count = models.PositiveIntegerField()
    min_occurred_at = models.DateTimeField()
    max_occurred_at = models.DateTimeField()
    prev_head = models.CharField(max_length=64)
    head = models.CharField(max_length=64)
    leaves = models.BinaryField(help_text="32-byte SHA-256 of each event, in id order; emptied by the purge")
    kid = models.CharField(max_length=64)
    public_jwk = models.JSONField(help_text="Public members only, so that the seal verifies offline")
    jws = models.TextField(help_text="JWS compact serialization of the checkpoint payload")
    events_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["last_id"], name="audit_checkpoint_last_id")]

    def __str__(self) -> str:
        return f"checkpoint {self.seq}: events {self.first_id}–{self.last_id} ({self.event_count})"
