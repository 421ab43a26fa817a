"""What has been revoked before it expired: single tokens by jti, and every token of a client issued
before a moment. Rows live until the tokens they affect have expired, then are purged."""

from __future__ import annotations

from django.db import models


class RevokedToken(models.Model):
    """One access token, revoked by its jti (RFC 7009, the portal, `revoke_tokens --jti`)."""

    jti = models.CharField(max_length=255, unique=True)
    client_id = models.CharField(max_length=255, help_text="The token's client_id claim")
    expires_at = models.DateTimeField(db_index=True, help_text="The token's exp: kept until then")
    revoked_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.jti


class ClientTokensRevocation(models.Model):
    """Every token whose client_id is this client and whose iat is before `not_before` is revoked
    (a compromised client). Kept until the last token it can affect has expired."""

    client_id = models.CharField(max_length=255, unique=True)
    not_before = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.client_id} before {self.not_before:%Y-%m-%d %H:%M:%S}"
