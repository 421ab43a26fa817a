"""Every event name the code writes is in the documented catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from audit.catalogue import EVENT_NAMES, EVENTS, catalogue_markdown, event_names_expand

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = re.compile(r"""event\s*=\s*["']([a-z_]+\.[a-z_]+)["']""")


def test_every_event_name_written_by_the_code_is_catalogued():
    written = set()
    for path in ROOT.glob("*/**/*.py"):
        if "tests" in path.parts or ".venv" in path.parts or "node_modules" in path.parts:
            continue
        written.update(WRITTEN.findall(path.read_text(encoding="utf-8")))
    written.update(f"key.{state}" for state in ("staged", "activated", "retired", "expired", "revoked"))
    assert written, "the scan found no audit_record calls"
    assert written <= EVENT_NAMES, sorted(written - EVENT_NAMES)


def test_event_names_are_unique_dotted_and_documented():
    names = [spec.name for spec in EVENTS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z]+\.[a-z_]+", name) for name in names)
    assert all(spec.details and spec.description for spec in EVENTS)
    assert catalogue_markdown().count("\n") == len(EVENTS) + 1


def test_a_prefix_pattern_expands_to_its_events():
    assert set(event_names_expand(["client.*"])) == {n for n in EVENT_NAMES if n.startswith("client.")}
    assert event_names_expand(["token.issued", "token.*"]) == (
        "token.issued",
        "token.exchanged",
        "token.denied",
        "token.throttled",
    )
