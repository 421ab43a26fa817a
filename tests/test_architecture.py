"""Imports flow one way, downward through the layers; the ground floor imports none of ours.

The import graph is built from the source (every import statement of every .py file of our apps,
module-level or inside a function, under TYPE_CHECKING or not), so a function-level import that
dodges a cycle counts as what it is. An app may import itself and any app in a layer below its own,
never one in its own layer or above: so there can be no loop either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The direction, written once: top (wiring) to bottom. Apps in one layer may not import each other.
# keys and clients share a layer: neither needs the other (the token's audit row takes a condition
# from each, and oauth combines them).
LAYERS: list[set[str]] = [
    {"authportal"},
    {"api"},  # the admin API: the portal's roles and list searches, over the same services
    {"portal", "monitoring"},  # the browser portal; health, metrics and the request log
    {"throttling"},  # the limits at the token endpoint, before the protocol's view
    {"oauth"},
    {"revocation"},  # revoked tokens and the signed list: the protocol and the portal ask it
    {"keys", "clients"},
    {"audit"},
    {"core"},  # the settings object, the typed request, the database deadline
]
APPS = set().union(*LAYERS)


def layer_of(app: str) -> int:
    return next(depth for depth, layer in enumerate(LAYERS) if app in layer)


def may_import(importer: str, imported: str) -> bool:
    return importer == imported or layer_of(imported) > layer_of(importer)


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative imports resolved."""
    module_parts = list(path.relative_to(root).with_suffix("").parts)
    package = module_parts[:-1] if module_parts[-1] != "__init__" else module_parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def upward_imports(root: Path) -> list[str]:
    """Every import of one of our apps by another that the layers do not allow, as 'file:line a -> b'."""
    wrong = []
    for app in sorted(APPS):
        for path in sorted((root / app).rglob("*.py")) if (root / app).is_dir() else ():
            for line, module in imports_of(path, root):
                imported = module.split(".")[0]
                if imported in APPS and not may_import(app, imported):
                    wrong.append(f"{path.relative_to(root)}:{line} {app} -> {module}")
    return wrong


def test_every_app_imports_only_downward():
    assert upward_imports(ROOT) == []


def test_the_check_sees_an_upward_import_hidden_in_a_function(tmp_path):
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "sealing.py").write_text(
        "def sign():\n    from keys.tokens import signer_active\n    return signer_active()\n"
    )
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "views.py").write_text("from oauth.errors import protocol_endpoint\n")
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "selectors.py").write_text("from . import models\nfrom keys import tokens\n")
    assert upward_imports(tmp_path) == [
        "audit/sealing.py:2 audit -> keys.tokens",
        "clients/selectors.py:2 clients -> keys",
        "keys/views.py:1 keys -> oauth.errors",
    ]


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [("oauth", "audit", True), ("audit", "core", True), ("core", "audit", False), ("keys", "clients", False)],
)
def test_the_direction_reads_as_the_readme_draws_it(importer, imported, allowed):
    assert may_import(importer, imported) is allowed
