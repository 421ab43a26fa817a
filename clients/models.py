from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.crypto import salted_hmac
from oauth2_provider.models import AbstractApplication

from clients.validators import (
    validate_audience,
    validate_client_name,
    validate_scope_name,
    validate_service_name,
)
from core.conf import app_settings


class NamedRegistryRow(models.Model):
    """A registry row known by its unique `name`: listed and shown by it, and named in audit rows as
    `<audit_kind>:<name>`."""

    name: str
    audit_kind: ClassVar[str]

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_subject(self) -> str:
        return f"{self.audit_kind}:{self.name}"


class Service(NamedRegistryRow):
    """A service that other services call: the audience of the tokens we issue for it."""

    name = models.CharField(max_length=63, unique=True, validators=[validate_service_name])
    audience = models.CharField(
        max_length=255,
        unique=True,
        validators=[validate_audience],
        help_text="Absolute URI, e.g. https://doctors.internal",
    )
    description = models.TextField(blank=True)
    owner_contact = models.CharField(max_length=255, blank=True, help_text="Who to ask about this service")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    audit_kind = "service"


class Scope(NamedRegistryRow):
    """A permission on one service, such as `doctors:read`; names are unique across services."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="scopes")
    name = models.CharField(max_length=100, unique=True, validators=[validate_scope_name])
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    audit_kind = "scope"


def default_token_lifetime() -> int:
    return app_settings.TOKEN_LIFETIME_DEFAULT


class Client(AbstractApplication):
    """A calling service's OAuth client: confidential, client_credentials only.

    Swapped in for django-oauth-toolkit's Application (OAUTH2_PROVIDER_APPLICATION_MODEL).
    """

    # 255 in the database: names stored before the rules came still load; new ones are at most 63.
    name = models.CharField(max_length=255, unique=True, validators=[validate_client_name])
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="clients",
        help_text="The service this client represents, if it is one of ours",
    )
    enabled = models.BooleanField(default=True)
    # Secret rotation with overlap: the previous secret's hash keeps working until it expires.
    previous_client_secret = models.CharField(max_length=255, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    access_token_lifetime = models.PositiveIntegerField(
        default=default_token_lifetime,
        validators=[MinValueValidator(60), MaxValueValidator(3600)],
        help_text="Seconds; at most one hour",
    )
    # private_key_jwt (RFC 7523 §2.2): a client registered with public keys authenticates with a signed
    # assertion, never a secret (its stored secret is random and never shown). Keys come from `jwks`, a
    # JWKS stored at registration, or from `jwks_uri`, fetched and cached (oauth/client_assertions.py).
    jwks = models.JSONField(null=True, blank=True)
    jwks_uri = models.CharField(max_length=500, blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(jwks_uri="") | models.Q(jwks__isnull=True), name="client_one_key_source"
            )
        ]

    @property
    def uses_keys(self) -> bool:
        """Whether it authenticates with private_key_jwt (registered keys) rather than a secret."""
        return self.jwks is not None or bool(self.jwks_uri)

    def clean(self) -> None:
        super().clean()
        maximum = app_settings.TOKEN_LIFETIME_MAX
        if self.access_token_lifetime and self.access_token_lifetime > maximum:
            raise ValidationError(
                {"access_token_lifetime": f"At most {maximum} seconds (AUTHPORTAL_TOKEN_LIFETIME_MAX)."}
            )

    # What every client is, whatever it was given: set by save(), so not validated before it.
    FORCED_FIELDS = ("client_type", "authorization_grant_type", "hash_client_secret")

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.client_type = self.CLIENT_CONFIDENTIAL
        self.authorization_grant_type = self.GRANT_CLIENT_CREDENTIALS
        self.hash_client_secret = True
        super().save(*args, **kwargs)

    def secret_version(self) -> str:
        """Names the current secret without revealing it. The rotate form carries it, so a form
        submitted twice (a reload, a double click) rotates once: the second finds another secret."""
        return salted_hmac("clients.Client.secret_version", self.client_secret).hexdigest()[:20]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_subject(self) -> str:
        """A client's rows name it by client_id, which never changes (its name is in the details)."""
        return f"client:{self.client_id}"


class Grant(models.Model):
    """This client may request this scope."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="grants")
    scope = models.ForeignKey(Scope, on_delete=models.CASCADE, related_name="grants")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "scope"], name="grant_unique_client_scope")]

    def __str__(self) -> str:
        return f"{self.client} → {self.scope}"


class RegistryVersion(models.Model):
    """One counter that every change to services, scopes, clients or grants moves, by trigger.

    Token requests decide from credentials and grants cached in the process, and their audit INSERT
    commits only if this counter still holds the value the cache was read at (see
    `clients.selectors.client_authenticate_cached`): a change of any kind, from the portal, a
    command or plain SQL, takes effect for the very next token. The triggers live in migration 0003.
    """

    version = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"registry version {self.version}"


class TrustedIssuer(models.Model):
    """An outside issuer of user tokens (an OpenID provider, a gateway) whose JWTs may be exchanged
    (RFC 8693, `subject_token_type=urn:ietf:params:oauth:token-type:jwt`) for one of our tokens whose
    `sub` is that user, namespaced as `user:<slug>:<user id>` (see `clients.external_subjects`).

    Its keys come from `jwks_uri`, fetched and cached as its `Cache-Control` says, or from `jwks`,
    a JWKS document stored at registration. Rows are never edited: remove and add again.
    """

    issuer = models.CharField(max_length=255, unique=True, help_text="The `iss` of its tokens, exactly")
    slug = models.CharField(
        max_length=63, unique=True, help_text="Names the issuer in `sub`: user:<slug>:<user id>"
    )
    jwks_uri = models.CharField(max_length=500, blank=True)
    jwks = models.JSONField(null=True, blank=True)
    audience = models.CharField(max_length=255, help_text="Its tokens' `aud` must contain this")
    user_claim = models.CharField(max_length=64, default="sub")
    algorithms = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issuer"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(jwks_uri="") & models.Q(jwks__isnull=False))
                | (~models.Q(jwks_uri="") & models.Q(jwks__isnull=True)),
                name="trusted_issuer_one_key_source",
            )
        ]

    def __str__(self) -> str:
        return self.issuer

    @property
    def audit_subject(self) -> str:
        return f"issuer:{self.slug}"


# The upstream name an edge's scope map uses for a user token of a trusted issuer (a token exchange
# with subject_token_type ...:jwt, which carries no scopes of ours): `--map @user=orders:read` lets
# the edge's service exchange its users' tokens for orders:read. `@` is in no scope name, so this
# key can never be confused with a scope.
USERS_UPSTREAM = "@user"


def default_delegation_max_depth() -> int:
    return 3


class DelegationEdge(models.Model):
    """A declared call: `from_service`, holding a token sent to it, may exchange it for one to `to_service`.

    `scope_map` says which downstream scopes each upstream scope allows: {"orders:write":
    ["payments:charge"]}; the key USERS_UPSTREAM stands for a trusted issuer's user token. A token exchanged along this edge carries only those (RFC 8693 token
    exchange at /o/token, oauth/exchange.py), and at most `max_depth` actors in its `act` chain.
    Part of the registry: migration 0005's trigger moves `RegistryVersion` on every change.
    """

    from_service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="edges_out")
    to_service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="edges_in")
    scope_map = models.JSONField(default=dict, help_text="Upstream scope → the downstream scopes it allows")
    max_depth = models.PositiveSmallIntegerField(
        default=default_delegation_max_depth,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Most actors in the chain of a token exchanged along this edge",
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["from_service__name", "to_service__name"]
        constraints = [
            models.UniqueConstraint(fields=["from_service", "to_service"], name="delegation_edge_unique"),
            models.CheckConstraint(
                condition=~models.Q(from_service=models.F("to_service")), name="delegation_edge_not_a_loop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_service} → {self.to_service}"

    @property
    def label(self) -> str:
        """How the audit log names the edge: `FROM->TO` by service name."""
        return f"{self.from_service.name}->{self.to_service.name}"

    @property
    def audit_subject(self) -> str:
        return f"edge:{self.label}"
