"""The audit event catalogue: every event name we write, what its outcome means and what `details` holds.

Names are stable and dotted (`<noun>.<past participle>`); auditors filter and script on them, so a
name never changes meaning and is never reused. The README's table is generated from EVENTS
(`python -c "from audit.catalogue import catalogue_markdown; print(catalogue_markdown())"`).
No event's details ever hold a secret, a token or a private key: `audit_record` refuses the usual
key names, and the tests check the token endpoint's rows against the real secret and token.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventSpec:
    name: str
    outcome: str  # "success", "failure", or "either"
    actor: str
    subject: str
    details: str
    description: str


# A table reads better one event to two lines.
# fmt: off
EVENTS: tuple[EventSpec, ...] = (
    EventSpec("token.issued", "success", "client id", "client:ID",
              "client, audiences, scopes, jti, kid, exp", "An access token was signed and handed out."),
    EventSpec("token.exchanged", "success", "client id (the actor)", "client:ID",
              "client, sub, actor_chain (nearest first), edge, audiences, scopes, txn, subject_jti, jti, kid, exp",
              "A token was exchanged for one to the next service on behalf of its subject (RFC 8693)."),
    EventSpec("token.denied", "failure", "client id as presented", "client:ID",
              "error (RFC 6749 code), reason", "A token request was refused."),
    EventSpec("token.throttled", "failure", "client id if registered, else `unregistered:` + fingerprint; or `address:IP`",
              "client:ID or address:IP", "limit (client_failures, address_failures, token_quota), count, window_start, window_end",
              "Token requests over a limit were refused with 429: one row per key, window and process, with how many."),
    EventSpec("client.created", "success", "portal user or operator", "client:ID",
              "name, service, access_token_lifetime", "A calling service's OAuth client was registered."),
    EventSpec("client.updated", "success", "portal user", "client:ID",
              "changed fields (old and new values)", "A client's name, lifetime or service changed."),
    EventSpec("client.secret_rotated", "success", "portal user", "client:ID",
              "name, old_secret_valid_until", "A client got a new secret; the old one lapses."),
    EventSpec("client.disabled", "success", "portal user", "client:ID",
              "name", "A client may no longer obtain tokens."),
    EventSpec("client.enabled", "success", "portal user", "client:ID",
              "name", "A disabled client may obtain tokens again."),
    EventSpec("client.key_added", "success", "portal user or operator", "client:ID",
              "name, kid, thumbprint, keys (kid and thumbprint of each key after the change)",
              "A private_key_jwt client got another public key (its next key, for rotation)."),
    EventSpec("client.key_removed", "success", "portal user or operator", "client:ID",
              "name, kid, thumbprint, keys (after the change)",
              "A public key of a private_key_jwt client was removed: assertions it signs are refused."),
    EventSpec("revocation.recorded", "success", "client id (RFC 7009), portal user or operator", "client:ID",
              "kind (token or client), jti and exp, or not_before; via (endpoint, portal, command); "
              "then (disabled, secret_rotated) for a compromised client",
              "Tokens were revoked: one by its jti, or every token of a client issued before not_before."),
    EventSpec("revocation.refused", "failure", "client id as presented", "client:ID",
              "error (RFC 6749 code), reason", "A revocation request at /o/revoke was refused."),
    EventSpec("introspection.answered", "either", "client id of the caller, as presented", "client:ID",
              "active, reason (why inactive), jti and client of the token when it is ours; never the token",
              "A token was introspected (RFC 7662); failure: the caller did not authenticate."),
    EventSpec("client.deleted", "success", "portal user", "client:ID",
              "name, grants (scope names)", "A client was removed."),
    EventSpec("service.created", "success", "portal user or operator", "service:NAME",
              "name, audience", "A service (an audience) was registered."),
    EventSpec("service.updated", "success", "portal user", "service:NAME",
              "changed fields", "A service's description or owner changed."),
    EventSpec("service.deleted", "success", "portal user or operator", "service:NAME",
              "name, audience, scopes", "A service was removed (by `apply --prune`), after its scopes and edges."),
    EventSpec("scope.created", "success", "portal user or operator", "scope:NAME",
              "service, scope", "A scope was added to a service."),
    EventSpec("scope.updated", "success", "portal user or operator", "scope:NAME",
              "service, scope, description (old and new)", "A scope's description changed."),
    EventSpec("scope.deleted", "success", "portal user", "scope:NAME",
              "service, scope", "A scope was removed (each of its grants first, as grant.removed)."),
    EventSpec("grant.added", "success", "portal user or operator", "client:ID",
              "client, service, scope", "A client may now ask for a scope."),
    EventSpec("grant.removed", "success", "portal user", "client:ID",
              "client, service, scope", "A client may no longer ask for a scope."),
    EventSpec("edge.added", "success", "portal user or operator", "edge:FROM->TO",
              "from_service, to_service, scope_map, max_depth, enabled",
              "A call along the graph was declared: FROM may exchange tokens for TO."),
    EventSpec("edge.removed", "success", "portal user or operator", "edge:FROM->TO",
              "from_service, to_service, scope_map, max_depth", "A declared call was withdrawn."),
    EventSpec("edge.disabled", "success", "portal user or operator", "edge:FROM->TO",
              "from_service, to_service", "A declared call was suspended."),
    EventSpec("edge.enabled", "success", "portal user or operator", "edge:FROM->TO",
              "from_service, to_service", "A suspended call was resumed."),
    EventSpec("issuer.added", "success", "portal user or operator", "issuer:SLUG",
              "issuer, slug, jwks_uri or kids (a stored JWKS), audience, user_claim, algorithms",
              "An outside issuer's user tokens may now be exchanged for ours."),
    EventSpec("issuer.removed", "success", "portal user or operator", "issuer:SLUG",
              "issuer, slug, jwks_uri or kids, audience, user_claim, algorithms",
              "An outside issuer's user tokens are no longer trusted."),
    EventSpec("key.staged", "success", "system or operator", "key:KID",
              "kid, algorithm, created", "A signing key was created and published, not yet signing."),
    EventSpec("key.activated", "success", "system or operator", "key:KID",
              "kid, algorithm (created when it is the first key)", "A signing key started signing tokens."),
    EventSpec("key.retired", "success", "system or operator", "key:KID",
              "kid, algorithm, expires_at", "A signing key stopped signing; still published."),
    EventSpec("key.expired", "success", "system", "key:KID",
              "kid, algorithm", "A key left the JWKS; its private half was erased."),
    EventSpec("key.revoked", "success", "operator", "key:KID",
              "kid, algorithm", "A key was withdrawn at once (compromise)."),
    EventSpec("key.kek_rotated", "success", "operator", "keys",
              "keys (how many re-encrypted)", "Every private key was re-encrypted under a new KEK."),
    EventSpec("portal.login", "success", "portal user", "user:NAME",
              "none", "Someone signed in to the portal."),
    EventSpec("portal.login_failed", "failure", "username as typed", "user:NAME",
              "none (the username typed is the actor)", "A portal sign-in was refused."),
    EventSpec("portal.logout", "success", "portal user", "user:NAME",
              "none", "Someone signed out."),
    EventSpec("portal.locked_out", "failure", "username as typed", "user:NAME",
              "refused, address, everywhere, until",
              "A failed sign-in locked the username (at its address, or everywhere: `everywhere`) until "
              "`until`; or, with `refused`, a sign-in was refused, unchecked, because of such a lock."),
    EventSpec("throttle.lifted", "success", "portal user", "client:ID or address:IP",
              "limit, label, until", "An admin let a throttled client id or address ask for tokens again at once."),
    EventSpec("client.quota_set", "success", "portal user", "client:ID",
              "name, old, new (tokens per window; null: none), window_seconds", "A client's token quota was set or removed."),
    EventSpec("portal.unlocked", "success", "portal user", "user:NAME or address:IP",
              "username, ip_address, attempts_removed",
              "An administrator lifted a lock-out (of a username at one address, or everywhere)."),
    EventSpec("portal.user_created", "success", "portal user or operator", "user:NAME",
              "username, role", "A portal account was created."),
    EventSpec("config.applied", "success", "operator", "config",
              "file, plan (every create, change and delete), counts",
              "`manage.py apply` made the registry match a file; each change also has its own row."),
    EventSpec("audit.exported", "either", "portal user or operator", "audit",
              "format, filters, rows, completed", "The audit log (or part of it) was exported."),
    EventSpec("audit.purged", "success", "system or operator", "audit",
              "cutoff, events, checkpoint, head", "Events older than the retention period were deleted."),
)
# fmt: on

EVENT_NAMES: frozenset[str] = frozenset(spec.name for spec in EVENTS)


def event_names_expand(patterns: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Event names for filter patterns: exact names, or `client.*` (or `client.`) for every `client.` event.

    Unknown exact names are kept (events of a later version, or a typo that then matches nothing).
    """
    names: list[str] = []
    for pattern in patterns:
        if pattern.endswith((".*", ".")):
            prefix = pattern.rstrip("*")
            names.extend(spec.name for spec in EVENTS if spec.name.startswith(prefix))
        else:
            names.append(pattern)
    return tuple(dict.fromkeys(names))


def catalogue_markdown() -> str:
    lines = ["| event | outcome | actor | subject | details |", "|---|---|---|---|---|"]
    for spec in EVENTS:
        lines.append(f"| `{spec.name}` | {spec.outcome} | {spec.actor} | `{spec.subject}` | {spec.details} |")
    return "\n".join(lines)
