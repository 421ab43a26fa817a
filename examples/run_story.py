#!/usr/bin/env python3
"""The whole story on loopback: the portal, ms_doctor, and ms_admin calling it with a token.

    python examples/run_story.py          # after `make setup`: .venv/bin/python examples/run_story.py

1. sets up a throw-away portal (SQLite in a temporary directory, issuer http://127.0.0.1:<port>),
2. registers ms_doctor (audience https://doctors.internal, scopes doctors:read and doctors:write)
   and the client ms_admin granted doctors:read, with the operator commands,
3. serves the portal with granian (as `make run` does) and starts ms_doctor,
4. runs ms_admin, which gets a token and calls ms_doctor: allowed, refused by scope, refused by
   caller, refused without or with a tampered token,
and stops everything. Exits 0 when every answer was the expected one.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PY = sys.executable


def say(message: str) -> None:
    print(f"[story] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def story_env(data_dir: Path, issuer: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        AUTHPORTAL_DATA_DIR=str(data_dir),
        AUTHPORTAL_ISSUER=issuer,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "sdk" / "src"), env.get("PYTHONPATH")])),
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own commands)
        [PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise SystemExit(f"[story] manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"[story] {url} never came up: the process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"[story] {url} did not answer within {seconds:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="authportal-story-"))
    portal_port, doctor_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{portal_port}"
    env = story_env(data_dir, issuer)
    processes: list[subprocess.Popen] = []
    try:
        say(f"portal: a fresh database in {data_dir}, issuer {issuer}")
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "ensure_signing_key")
        manage(
            env,
            "create_service",
            "ms_doctor",
            "--audience",
            "https://doctors.internal",
            "--scope",
            "doctors:read",
            "--scope",
            "doctors:write",
        )
        say(
            "registered service ms_doctor: audience https://doctors.internal, "
            "scopes doctors:read doctors:write"
        )
        created = json.loads(
            manage(env, "create_client", "ms_admin", "--grant", "ms_doctor:doctors:read", "--json")
            .strip()
            .splitlines()[-1]
        )
        say(
            f"registered client ms_admin (client_id {created['client_id']}), granted doctors:read; "
            "its secret goes to ms_admin only"
        )

        portal_log = open(data_dir / "portal.log", "w")  # noqa: SIM115 (closed with the directory)
        portal = subprocess.Popen(  # noqa: S603 (our own commands)
            [
                str(Path(PY).parent / "granian"),
                "--interface",
                "rsgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(portal_port),
                "--workers",
                "1",
                "--no-ws",
                "authportal.rsgi:application",
            ],
            cwd=ROOT,
            stdout=portal_log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        processes.append(portal)
        wait_until_up(f"{issuer}/.well-known/oauth-authorization-server", portal)
        say(f"portal up: {issuer}/.well-known/oauth-authorization-server and /.well-known/jwks.json")

        doctor = subprocess.Popen(  # noqa: S603 (our own commands)
            [PY, str(EXAMPLES / "ms_doctor.py")],
            cwd=ROOT,
            env={
                **env,
                "MS_DOCTOR_ISSUER": issuer,
                "MS_DOCTOR_PORT": str(doctor_port),
                "MS_DOCTOR_CALLERS": json.dumps({created["client_id"]: "ms_admin"}),
            },
        )
        processes.append(doctor)
        wait_until_up(f"http://127.0.0.1:{doctor_port}/health", doctor)

        say("ms_admin calls ms_doctor")
        admin = subprocess.run(  # noqa: S603 (our own commands)
            [PY, str(EXAMPLES / "ms_admin.py")],
            cwd=ROOT,
            timeout=60,
            env={
                **env,
                "MS_ADMIN_ISSUER": issuer,
                "MS_ADMIN_CLIENT_ID": created["client_id"],
                "MS_ADMIN_CLIENT_SECRET": created["client_secret"],
                "MS_DOCTOR_URL": f"http://127.0.0.1:{doctor_port}",
            },
        )
        if admin.returncode != 0:
            say("some answers were not the expected ones; the portal's log:")
            print((data_dir / "portal.log").read_text()[-4000:])
            return 1
        say("done: authentication by the portal, authorization by ms_doctor, every answer as expected")
        return 0
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
