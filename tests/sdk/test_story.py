"""The runnable story, end to end: portal, ms_doctor and ms_admin as real processes on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="the story runs POSIX processes")
def test_the_story_runs_with_every_answer_as_expected():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_story.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout
    assert "GET /doctors → 200 as expected" in lines
    assert 'POST /doctors → 403 as expected  Bearer realm="ms_doctor", error="insufficient_scope"' in lines
    assert "GET /doctors/1/salary → 403 as expected" in lines and "ms_admin may not read a salary" in lines
    assert 'error="invalid_token"' in lines
    assert "the cached one (requests made: 1)" in lines
    assert "UNEXPECTED" not in lines
