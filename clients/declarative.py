"""Declarative configuration: the registry as a YAML file (`export_config`), and a file made true (`apply`).

The one home of the file format. Objects are named, never numbered: services and clients by name,
edges by their two services, trusted issuers by issuer. An object in the file is made to match it
exactly (a listed service's scopes, a listed client's grants); an object missing from the file is
deleted only with `prune`. Every change goes through the functions of clients/services.py, so it
is validated and audited as from the portal; the whole plan is one transaction and one
`config.applied` row with the diff. Client secrets are never in the file: a new client's secret is
returned for the caller to show once.

    version: 1
    services:
      - name: ms_doctor
        audience: https://doctors.internal
        description: Doctors and their schedules     # optional, as owner_contact
        scopes:
          - {name: doctors:read, description: Read doctors}
    clients:
      - name: ms_admin
        grants: [ms_doctor:doctors:read]             # SERVICE:SCOPE
        service: null                                # the service it represents, if any
        access_token_lifetime: 600
        enabled: true
    edges:
      - {from: ms_orders, to: ms_payments, scope_map: {orders:write: [payments:charge]}, max_depth: 3,
         enabled: true, description: ""}
    trusted_issuers:
      - {issuer: https://login.example.com, slug: login-example-com, audience: https://gateway.internal,
         jwks_uri: https://login.example.com/jwks, user_claim: sub, algorithms: [RS256, ES256]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.actor import Actor
from audit.recording import audit_change
from clients.models import Client, DelegationEdge, Grant, Scope, Service, TrustedIssuer
from clients.services import (
    GrantSpec,
    ScopeMapping,
    ScopeSpec,
    client_delete,
    client_register,
    client_set_enabled,
    client_update,
    delegation_edge_add,
    delegation_edge_remove,
    delegation_edge_set_enabled,
    grant_add,
    grant_remove,
    scope_add,
    scope_remove,
    scope_update,
    service_delete,
    service_register,
    service_update,
    trusted_issuer_add,
    trusted_issuer_remove,
)

FORMAT_VERSION = 1
SECTIONS = ("services", "clients", "edges", "trusted_issuers")
Path = tuple[str | int, ...]


class ConfigError(Exception):
    """A bad file: the message names the line and the field."""


# --- reading the file, keeping each value's line ------------------------------------------------------


@dataclass
class Document:
    data: dict[str, Any]
    lines: dict[Path, int]
    name: str

    def line(self, path: Path) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path, message: str) -> ConfigError:
        where = ".".join(str(p) for p in path) or "(top)"
        return ConfigError(f"{self.name}, line {self.line(path)}, {where}: {message}")


def config_parse(text: str, *, name: str = "the file") -> Document:
    """The file's values with the line of each (1-based), or ConfigError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{name}, line {line}: not YAML: {getattr(exc, 'problem', exc)}") from None
    lines: dict[Path, int] = {}
    loader = yaml.SafeLoader("")

    def value(node: yaml.Node, path: Path) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str) or key in result:
                    lines[(*path, str(key))] = key_node.start_mark.line + 1
                    problem = "is listed twice" if key in result else "keys must be text"
                    raise Document({}, lines, name).error((*path, str(key)), problem)
                result[key] = value(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [value(item, (*path, index)) for index, item in enumerate(node.value)]
        return loader.construct_object(node, deep=True)

    data = value(root, ()) if root is not None else {}
    document = Document(data if isinstance(data, dict) else {}, lines, name)
    if not isinstance(data, dict):
        raise document.error(
            (), "the file must be a mapping with version, services, clients, edges, trusted_issuers"
        )
    return document


# --- the desired state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    audience: str
    description: str
    owner_contact: str
    scopes: tuple[ScopeSpec, ...]


@dataclass(frozen=True)
class ClientSpec:
    name: str
    grants: tuple[str, ...]
    service: str | None
    access_token_lifetime: int | None
    enabled: bool


@dataclass(frozen=True)
class EdgeSpec:
    from_service: str
    to_service: str
    scope_map: tuple[tuple[str, tuple[str, ...]], ...]
    max_depth: int
    enabled: bool
    description: str


@dataclass(frozen=True)
class IssuerSpec:
    issuer: str
    slug: str
    audience: str
    jwks_uri: str
    jwks: str  # canonical JSON text of a stored JWKS, "" with jwks_uri
    user_claim: str
    algorithms: tuple[str, ...]


@dataclass
class DesiredState:
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    clients: dict[str, ClientSpec] = field(default_factory=dict)
    edges: dict[tuple[str, str], EdgeSpec] = field(default_factory=dict)
    issuers: dict[str, IssuerSpec] = field(default_factory=dict)
    paths: dict[tuple[str, Any], Path] = field(default_factory=dict)  # (section, key) -> where in the file


class _Reader:
    """Checks each field's type and presence, naming the line; the rules of values are the services'."""

    def __init__(self, document: Document):
        self.document = document

    def mapping(self, value: Any, path: Path, *, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.document.error(path, "must be a mapping")
        for key in value:
            if key not in required | optional:
                known = ", ".join(sorted(required | optional))
                raise self.document.error((*path, key), f"unknown field (known: {known})")
        for key in sorted(required - set(value)):
            raise self.document.error(path, f"the field {key!r} is missing")
        return value

    def text(self, value: Any, path: Path, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value):
            raise self.document.error(path, "must be text" + ("" if empty else ", not empty"))
        if "\x00" in value:
            raise self.document.error(path, "must not hold a NUL character")
        return value

    def number(self, value: Any, path: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.document.error(path, "must be a whole number")
        return value

    def flag(self, value: Any, path: Path) -> bool:
        if not isinstance(value, bool):
            raise self.document.error(path, "must be true or false")
        return value

    def texts(self, value: Any, path: Path) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.document.error(path, "must be a list")
        return tuple(self.text(item, (*path, index)) for index, item in enumerate(value))

    def items(self, section: str) -> list[tuple[Path, Any]]:
        value = self.document.data.get(section) or []
        if not isinstance(value, list):
            raise self.document.error((section,), "must be a list")
        return [((section, index), item) for index, item in enumerate(value)]


def desired_state(document: Document) -> DesiredState:
    """The file read into specs, or ConfigError naming the line and field of the first problem."""
    read = _Reader(document)
    data = document.data
    read.mapping(data, (), required={"version"}, optional=set(SECTIONS))
    if data["version"] != FORMAT_VERSION:
        raise document.error(("version",), f"must be {FORMAT_VERSION}")
    state = DesiredState()

    def keep(section: str, key: Any, path: Path, table: dict[Any, Any], spec: Any) -> None:
        if key in table:
            raise document.error(path, f"{key!r} is listed twice")
        table[key] = spec
        state.paths[(section, key)] = path

    for path, item in read.items("services"):
        fields = read.mapping(
            item, path, required={"name", "audience"}, optional={"description", "owner_contact", "scopes"}
        )
        scopes = []
        for index, scope in enumerate(fields.get("scopes") or []):
            scope_path = (*path, "scopes", index)
            scope = read.mapping(scope, scope_path, required={"name"}, optional={"description"})
            scopes.append(
                ScopeSpec(
                    read.text(scope["name"], (*scope_path, "name")),
                    read.text(scope.get("description", ""), (*scope_path, "description"), empty=True),
                )
            )
        spec = ServiceSpec(
            name=read.text(fields["name"], (*path, "name")),
            audience=read.text(fields["audience"], (*path, "audience")),
            description=read.text(fields.get("description", ""), (*path, "description"), empty=True),
            owner_contact=read.text(fields.get("owner_contact", ""), (*path, "owner_contact"), empty=True),
            scopes=tuple(sorted(scopes, key=lambda s: s.name)),
        )
        keep("services", spec.name, path, state.services, spec)

    for path, item in read.items("clients"):
        fields = read.mapping(
            item, path, required={"name"}, optional={"grants", "service", "access_token_lifetime", "enabled"}
        )
        represented = fields.get("service")
        lifetime = fields.get("access_token_lifetime")
        client_spec = ClientSpec(
            name=read.text(fields["name"], (*path, "name")),
            grants=tuple(sorted(set(read.texts(fields.get("grants") or [], (*path, "grants"))))),
            service=read.text(represented, (*path, "service")) if represented is not None else None,
            access_token_lifetime=read.number(lifetime, (*path, "access_token_lifetime"))
            if lifetime is not None
            else None,
            enabled=read.flag(fields.get("enabled", True), (*path, "enabled")),
        )
        for index, grant in enumerate(client_spec.grants):
            try:
                GrantSpec.parse(grant)
            except ValidationError as exc:
                raise document.error((*path, "grants", index), exc.messages[0]) from None
        keep("clients", client_spec.name, path, state.clients, client_spec)

    for path, item in read.items("edges"):
        fields = read.mapping(
            item, path, required={"from", "to", "scope_map"}, optional={"max_depth", "enabled", "description"}
        )
        scope_map = fields["scope_map"]
        if not isinstance(scope_map, dict) or not scope_map:
            raise document.error(
                (*path, "scope_map"), "must map upstream scopes to lists of downstream scopes"
            )
        edge = EdgeSpec(
            from_service=read.text(fields["from"], (*path, "from")),
            to_service=read.text(fields["to"], (*path, "to")),
            scope_map=tuple(
                sorted(
                    (str(up), tuple(sorted(set(read.texts(downs, (*path, "scope_map", up))))))
                    for up, downs in scope_map.items()
                )
            ),
            max_depth=read.number(fields.get("max_depth", 3), (*path, "max_depth")),
            enabled=read.flag(fields.get("enabled", True), (*path, "enabled")),
            description=read.text(fields.get("description", ""), (*path, "description"), empty=True),
        )
        keep("edges", (edge.from_service, edge.to_service), path, state.edges, edge)

    for path, item in read.items("trusted_issuers"):
        fields = read.mapping(
            item,
            path,
            required={"issuer", "audience"},
            optional={"slug", "jwks_uri", "jwks", "user_claim", "algorithms"},
        )
        jwks = fields.get("jwks")
        if jwks is not None and not isinstance(jwks, dict):
            raise document.error((*path, "jwks"), "must be a JWKS document (a mapping with keys)")
        issuer_spec = IssuerSpec(
            issuer=read.text(fields["issuer"], (*path, "issuer")),
            slug=read.text(fields.get("slug", ""), (*path, "slug"), empty=True),
            audience=read.text(fields["audience"], (*path, "audience")),
            jwks_uri=read.text(fields.get("jwks_uri", ""), (*path, "jwks_uri"), empty=True),
            jwks=_canonical_json(jwks) if jwks is not None else "",
            user_claim=read.text(fields.get("user_claim", "sub"), (*path, "user_claim")),
            algorithms=read.texts(fields.get("algorithms") or ["RS256", "ES256"], (*path, "algorithms")),
        )
        keep("trusted_issuers", issuer_spec.issuer, path, state.issuers, issuer_spec)
    return state


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# --- the current state, in the same specs ------------------------------------------------------------


def current_state() -> DesiredState:
    state = DesiredState()
    scopes: dict[int, list[ScopeSpec]] = {}
    for service_pk, name, description in Scope.objects.order_by("name").values_list(
        "service_id", "name", "description"
    ):
        scopes.setdefault(service_pk, []).append(ScopeSpec(name, description))
    for service in Service.objects.order_by("name"):
        state.services[service.name] = _spec_of(
            ServiceSpec, service, scopes=tuple(scopes.get(service.pk, []))
        )
    grants: dict[int, list[str]] = {}
    for client_pk, service_name, scope_name in Grant.objects.values_list(
        "client_id", "scope__service__name", "scope__name"
    ):
        grants.setdefault(client_pk, []).append(f"{service_name}:{scope_name}")
    for client in Client.objects.select_related("service").order_by("name"):
        state.clients[client.name] = _spec_of(
            ClientSpec,
            client,
            grants=tuple(sorted(grants.get(client.pk, []))),
            service=client.service.name if client.service else None,
        )
    for edge in DelegationEdge.objects.select_related("from_service", "to_service"):
        state.edges[(edge.from_service.name, edge.to_service.name)] = _spec_of(
            EdgeSpec,
            edge,
            from_service=edge.from_service.name,
            to_service=edge.to_service.name,
            scope_map=tuple(sorted((up, tuple(sorted(downs))) for up, downs in edge.scope_map.items())),
        )
    for issuer in TrustedIssuer.objects.order_by("issuer"):
        state.issuers[issuer.issuer] = _spec_of(
            IssuerSpec,
            issuer,
            jwks=_canonical_json(issuer.jwks) if issuer.jwks is not None else "",
            algorithms=tuple(issuer.algorithms),
        )
    return state


if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SpecT = TypeVar("SpecT", bound="DataclassInstance")


def _spec_of(spec_class: type[SpecT], row: Any, **computed: Any) -> SpecT:
    """A spec of `row`: each field it is not given in `computed` is the row's attribute of that name."""
    taken = {f.name: getattr(row, f.name) for f in fields(spec_class) if f.name not in computed}
    return spec_class(**taken, **computed)


def config_export() -> str:
    """The registry in the file format, in a stable order: export, apply, export gives the same text."""
    state = current_state()
    data: dict[str, Any] = {"version": FORMAT_VERSION}
    data["services"] = [
        {
            "name": s.name,
            "audience": s.audience,
            **({"description": s.description} if s.description else {}),
            **({"owner_contact": s.owner_contact} if s.owner_contact else {}),
            "scopes": [
                {"name": c.name, **({"description": c.description} if c.description else {})}
                for c in s.scopes
            ],
        }
        for s in state.services.values()
    ]
    data["clients"] = [
        {
            "name": c.name,
            "grants": list(c.grants),
            "service": c.service,
            "access_token_lifetime": c.access_token_lifetime,
            "enabled": c.enabled,
        }
        for c in state.clients.values()
    ]
    data["edges"] = [
        {
            "from": e.from_service,
            "to": e.to_service,
            "scope_map": {up: list(downs) for up, downs in e.scope_map},
            "max_depth": e.max_depth,
            "enabled": e.enabled,
            "description": e.description,
        }
        for _, e in sorted(state.edges.items())
    ]
    data["trusted_issuers"] = [
        {
            "issuer": i.issuer,
            "slug": i.slug,
            "audience": i.audience,
            **({"jwks_uri": i.jwks_uri} if i.jwks_uri else {"jwks": json.loads(i.jwks)}),
            "user_claim": i.user_claim,
            "algorithms": list(i.algorithms),
        }
        for i in state.issuers.values()
    ]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --- the plan ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    action: str  # "create", "change" or "delete"
    kind: str  # "service", "scope", "client", "grant", "edge", "trusted_issuer"
    name: str
    changes: dict[str, Any] = field(default_factory=dict)
    path: Path = ()

    def __str__(self) -> str:
        sign = {"create": "+", "change": "~", "delete": "-"}[self.action]
        detail = ", ".join(f"{k}: {v['from']!r} -> {v['to']!r}" for k, v in self.changes.items())
        return f"{sign} {self.action} {self.kind} {self.name}" + (f" ({detail})" if detail else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            **({"changes": self.changes} if self.changes else {}),
        }


def _diff(have: Any, want: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        n: {"from": getattr(have, n), "to": getattr(want, n)}
        for n in names
        if getattr(have, n) != getattr(want, n)
    }


def config_plan(
    *, desired: DesiredState, prune: bool, keep_services: frozenset[str] = frozenset()
) -> list[Step]:
    """What applying would do, in the order it would do it. `keep_services` are never pruned."""
    have = current_state()
    steps: list[Step] = []
    at = desired.paths.get

    for issuer, issuer_want in desired.issuers.items():
        issuer_old = have.issuers.get(issuer)
        if issuer_old is None:
            steps.append(Step("create", "trusted_issuer", issuer, path=at(("trusted_issuers", issuer), ())))
        elif changes := _diff(
            issuer_old, issuer_want, ("slug", "audience", "jwks_uri", "jwks", "user_claim", "algorithms")
        ):
            if not issuer_want.slug and "slug" in changes and len(changes) == 1:
                continue  # the default slug, as registered
            steps.append(
                Step("change", "trusted_issuer", issuer, changes, at(("trusted_issuers", issuer), ()))
            )

    for name, want in desired.services.items():
        path = at(("services", name), ())
        old = have.services.get(name)
        if old is None:
            steps.append(Step("create", "service", name, path=path))
            old_scopes: dict[str, ScopeSpec] = {}
        else:
            if old.audience != want.audience:
                steps.append(
                    Step("change", "service", name, _diff(old, want, ("audience",)), (*path, "audience"))
                )
            elif changes := _diff(old, want, ("description", "owner_contact")):
                steps.append(Step("change", "service", name, changes, path))
            old_scopes = {s.name: s for s in old.scopes}
        wanted_scopes = {s.name: s for s in want.scopes}
        for scope in want.scopes:
            if scope.name not in old_scopes:
                steps.append(
                    Step(
                        "create",
                        "scope",
                        scope.name,
                        {"service": {"from": None, "to": name}},
                        (*path, "scopes"),
                    )
                )
            elif old_scopes[scope.name].description != scope.description:
                steps.append(
                    Step(
                        "change",
                        "scope",
                        scope.name,
                        _diff(old_scopes[scope.name], scope, ("description",)),
                        (*path, "scopes"),
                    )
                )
        for scope_name in old_scopes:
            if scope_name not in wanted_scopes:
                steps.append(Step("delete", "scope", scope_name, path=(*path, "scopes")))

    for name, client_want in desired.clients.items():
        path = at(("clients", name), ())
        client_old = have.clients.get(name)
        if client_old is None:
            steps.append(Step("create", "client", name, path=path))
            old_grants: tuple[str, ...] = ()
        else:
            compared = ("service", "enabled") + (
                ("access_token_lifetime",) if client_want.access_token_lifetime is not None else ()
            )
            if changes := _diff(client_old, client_want, compared):
                steps.append(Step("change", "client", name, changes, path))
            old_grants = client_old.grants
        steps += [
            Step("create", "grant", f"{name} {g}", path=(*path, "grants"))
            for g in client_want.grants
            if g not in old_grants
        ]
        steps += [
            Step("delete", "grant", f"{name} {g}", path=(*path, "grants"))
            for g in old_grants
            if g not in client_want.grants
        ]

    for key, edge_want in desired.edges.items():
        path = at(("edges", key), ())
        edge_old = have.edges.get(key)
        if edge_old is None:
            steps.append(Step("create", "edge", "->".join(key), path=path))
        elif changes := _diff(edge_old, edge_want, ("scope_map", "max_depth", "description", "enabled")):
            steps.append(Step("change", "edge", "->".join(key), changes, path))

    if prune:
        steps += [Step("delete", "edge", "->".join(k)) for k in have.edges if k not in desired.edges]
        steps += [Step("delete", "client", n) for n in have.clients if n not in desired.clients]
        steps += [
            Step("delete", "service", n)
            for n in have.services
            if n not in desired.services and n not in keep_services
        ]
        steps += [Step("delete", "trusted_issuer", i) for i in have.issuers if i not in desired.issuers]
    return steps


# --- applying it -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewClientSecret:
    name: str
    client_id: str
    client_secret: str  # show once; never stored in the clear, never logged


class _RolledBack(Exception):
    pass


def config_apply(
    *,
    document: Document,
    steps: list[Step],
    desired: DesiredState,
    actor: Actor,
    source: str,
    commit: bool = True,
) -> list[NewClientSecret]:
    """Carry out a plan from `config_plan` in one transaction, with one `config.applied` row; all or nothing.

    A service function's refusal becomes a ConfigError naming the line of the object it was applying.
    With `commit=False` every step is tried (so a refusal shows as it would), then all is rolled back.
    """
    secrets: list[NewClientSecret] = []
    try:
        with transaction.atomic():
            secrets = _apply_steps(
                document=document, steps=steps, desired=desired, actor=actor, source=source
            )
            if not commit:
                raise _RolledBack
    except _RolledBack:
        return []
    return secrets


def _apply_steps(
    *, document: Document, steps: list[Step], desired: DesiredState, actor: Actor, source: str
) -> list[NewClientSecret]:
    secrets: list[NewClientSecret] = []
    for step in steps:
        try:
            secret = _carry_out(step, desired=desired, actor=actor)
        except ValidationError as exc:
            path = step.path
            fields = [name for name in getattr(exc, "error_dict", {}) if name != "__all__"]
            if step.action == "create" and step.kind in ("service", "client", "edge") and len(fields) == 1:
                path = (*path, fields[0])  # the field the service function named
            raise document.error(path, "; ".join(exc.messages)) from None
        if secret is not None:
            secrets.append(secret)
    if steps:
        audit_change(
            actor=actor,
            event="config.applied",
            subject="config",
            details={
                "file": source,
                "plan": [step.as_dict() for step in steps],
                "counts": {a: sum(s.action == a for s in steps) for a in ("create", "change", "delete")},
            },
        )
    return secrets


def _carry_out(step: Step, *, desired: DesiredState, actor: Actor) -> NewClientSecret | None:
    carry_out = {
        "trusted_issuer": _issuer_step,
        "service": _service_step,
        "scope": _scope_step,
        "client": _client_step,
        "grant": _grant_step,
        "edge": _edge_step,
    }[step.kind]
    return carry_out(step, desired, actor)


def _issuer_step(step: Step, desired: DesiredState, actor: Actor) -> None:
    if step.action in ("change", "delete"):  # rows are never edited: remove, then add anew
        trusted_issuer_remove(trusted_issuer=TrustedIssuer.objects.get(issuer=step.name), actor=actor)
    if step.action in ("create", "change"):
        want = desired.issuers[step.name]
        trusted_issuer_add(
            issuer=want.issuer,
            audience=want.audience,
            jwks_uri=want.jwks_uri,
            jwks=json.loads(want.jwks) if want.jwks else None,
            user_claim=want.user_claim,
            algorithms=list(want.algorithms),
            slug=want.slug,
            actor=actor,
        )


def _service_step(step: Step, desired: DesiredState, actor: Actor) -> None:
    if step.action == "delete":
        service_delete(service=Service.objects.get(name=step.name), actor=actor)
        return
    want = desired.services[step.name]
    if step.action == "create":
        service_register(
            name=want.name,
            audience=want.audience,
            scopes=[],
            description=want.description,
            owner_contact=want.owner_contact,
            actor=actor,
        )
    elif "audience" in step.changes:
        raise ValidationError(
            f"The audience of {step.name} cannot change (tokens carry it): remove the service and add it anew."
        )
    else:
        service_update(
            service=Service.objects.get(name=step.name),
            description=want.description,
            owner_contact=want.owner_contact,
            actor=actor,
        )


def _scope_step(step: Step, desired: DesiredState, actor: Actor) -> None:
    if step.action == "create":
        service = Service.objects.get(name=step.changes["service"]["to"])
        spec = next(s for s in desired.services[service.name].scopes if s.name == step.name)
        scope_add(service=service, name=spec.name, description=spec.description, actor=actor)
        return
    scope = Scope.objects.select_related("service").get(name=step.name)
    if step.action == "change":
        scope_update(scope=scope, description=step.changes["description"]["to"], actor=actor)
    else:
        scope_remove(scope=scope, actor=actor)


def _client_step(step: Step, desired: DesiredState, actor: Actor) -> NewClientSecret | None:
    if step.action == "delete":
        client_delete(client=Client.objects.get(name=step.name), actor=actor)
        return None
    want = desired.clients[step.name]
    service = Service.objects.filter(name=want.service).first() if want.service else None
    if want.service and service is None:
        raise ValidationError({"service": [f"There is no service {want.service!r}."]})
    if step.action == "create":
        registered = client_register(
            name=want.name,
            grants=[],
            service=service,
            access_token_lifetime=want.access_token_lifetime,
            actor=actor,
        )
        if not want.enabled:
            client_set_enabled(client=registered.client, enabled=False, actor=actor)
        return NewClientSecret(want.name, registered.client.client_id, registered.client_secret)
    client = Client.objects.get(name=step.name)
    client_update(
        client=client,
        service=service,
        access_token_lifetime=want.access_token_lifetime or client.access_token_lifetime,
        actor=actor,
    )
    client_set_enabled(client=client, enabled=want.enabled, actor=actor)
    return None


def _grant_step(step: Step, desired: DesiredState, actor: Actor) -> None:
    client_name, _, grant_text = step.name.partition(" ")
    grant = GrantSpec.parse(grant_text)
    scope = (
        Scope.objects.select_related("service").filter(name=grant.scope, service__name=grant.service).first()
    )
    if scope is None:
        raise ValidationError(f"The service {grant.service!r} has no scope {grant.scope!r}.")
    client = Client.objects.get(name=client_name)
    if step.action == "create":
        grant_add(client=client, scope=scope, actor=actor)
    else:
        grant_remove(client=client, scope=scope, actor=actor)


def _edge_step(step: Step, desired: DesiredState, actor: Actor) -> None:
    from_name, _, to_name = step.name.partition("->")
    existing = (
        DelegationEdge.objects.select_related("from_service", "to_service")
        .filter(from_service__name=from_name, to_service__name=to_name)
        .first()
    )
    if step.action == "delete":
        if existing is not None:
            delegation_edge_remove(edge=existing, actor=actor)
        return
    want = desired.edges[(from_name, to_name)]
    if existing is not None and set(step.changes) == {"enabled"}:
        delegation_edge_set_enabled(edge=existing, enabled=want.enabled, actor=actor)
        return
    if existing is not None:  # a new scope map, depth or description: the edge is declared anew
        delegation_edge_remove(edge=existing, actor=actor)
    services = {s.name: s for s in Service.objects.filter(name__in=[from_name, to_name])}
    missing = [name for name in (from_name, to_name) if name not in services]
    if missing:
        raise ValidationError(f"There is no service {missing[0]!r}.")
    edge = delegation_edge_add(
        from_service=services[from_name],
        to_service=services[to_name],
        mappings=[ScopeMapping(up, down) for up, downs in want.scope_map for down in downs],
        max_depth=want.max_depth,
        description=want.description,
        actor=actor,
    )
    if not want.enabled:
        delegation_edge_set_enabled(edge=edge, enabled=False, actor=actor)
