from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q


class SigningKey(models.Model):
    """A key pair that signs access tokens. Only the public half ever leaves this table.

    staged (published, not signing) → active (the one signer per algorithm) → retired (published,
    verifies what it signed) → expired (gone, private part destroyed); revoked: gone at once.
    """

    class State(models.TextChoices):
        STAGED = "staged"
        ACTIVE = "active"
        RETIRED = "retired"
        EXPIRED = "expired"
        REVOKED = "revoked"

    class Algorithm(models.TextChoices):
        RS256 = "RS256"
        PS256 = "PS256"
        ES256 = "ES256"
        EDDSA = "EdDSA"

    PUBLISHED_STATES = (State.STAGED, State.ACTIVE, State.RETIRED)

    kid = models.CharField(max_length=64, unique=True, help_text="RFC 7638 thumbprint of the public key")
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices)
    state = models.CharField(max_length=8, choices=State.choices)
    public_jwk = models.JSONField(help_text="Public members only")
    private_key_encrypted = models.TextField(help_text="PKCS#8 PEM, encrypted with the key-encryption key")
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True, help_text="First published in the JWKS")
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["algorithm"], condition=Q(state="active"), name="signingkey_one_active_per_algorithm"
            ),
            models.UniqueConstraint(
                fields=["algorithm"], condition=Q(state="staged"), name="signingkey_one_staged_per_algorithm"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.algorithm}, {self.state})"

    def is_publishable(self, now: datetime) -> bool:
        if self.state not in self.PUBLISHED_STATES:
            return False
        return self.expires_at is None or now < self.expires_at


class PublishedJwks(models.Model):
    """The JWKS document as last published: what /.well-known/jwks.json serves, byte for byte."""

    document = models.TextField()
    etag = models.CharField(max_length=66)
    published_at = models.DateTimeField()

    class Meta:
        verbose_name = "published JWKS"

    def __str__(self) -> str:
        return f"JWKS {self.etag} at {self.published_at:%Y-%m-%d %H:%M:%S}"
