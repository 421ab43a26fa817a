"""`manage.py` in a fresh process, as an operator starts it: the environment decides everything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage_py(
    tmp_path: Path, *args: str, without: tuple[str, ...] = (), timeout: int = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `manage.py ARGS` with its data directory in `tmp_path`, leaving out the variables `without`."""
    environment = {k: v for k, v in os.environ.items() if k not in without}
    environment.update({"AUTHPORTAL_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
