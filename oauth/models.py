from __future__ import annotations

from django.db import models


class UsedClientAssertion(models.Model):
    """A private_key_jwt assertion's jti, seen once, kept until its `exp` has passed: a second use is a
    replay. Only without Redis (with REDIS_URL the jti lives there, with the same expiry); rows past
    `expires_at` are purged (`oauth.client_assertions.used_client_assertions_purge`)."""

    # sha256 of the client id and jti: a fixed-size key whatever the client wrote.
    key = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
