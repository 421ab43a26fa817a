#!/usr/bin/env python3
"""The whole story on loopback: the portal, ms_doctor, ms_orders, ms_payments, ms_gateway, ms_admin
calling, and a user, alice, ordering through the gateway.

    python examples/run_story.py          # after `make setup`: .venv/bin/python examples/run_story.py
    STORY_FIRST_PORT=19000 python examples/run_story.py   # ports 19000–19004 instead of free ones

1. sets up a throw-away portal (SQLite in a temporary directory, issuer http://127.0.0.1:<port>),
2. registers, with the operator commands, the services ms_doctor (doctors:read, doctors:write),
   ms_orders (orders:write) and ms_payments (payments:charge); the client ms_admin granted
   doctors:read and orders:write; the client ms_orders representing its service, granted nothing;
   and the edge ms_orders → ms_payments mapping orders:write to payments:charge,
3. serves the portal with granian (as `make run` does) and starts ms_doctor, ms_payments, ms_orders,
4. runs ms_admin, which gets a token and calls ms_doctor: allowed, refused by scope, refused by
   caller, refused without or with a tampered token; then places an order at ms_orders three
   times, once for each way ms_orders may try to charge it at ms_payments: forwarding ms_admin's
   token (refused: wrong audience), its own token (refused: nothing grants payments:charge to it),
   exchanging the token (accepted, with ms_admin as `sub` and ms_orders as the actor),
5. plays a small login service, https://login.example.test (a key pair made now; its public JWKS
   registered with add_trusted_issuer), which gives alice a user token; alice's app sends it to
   ms_gateway, which exchanges it (subject_token_type …:jwt, along the edge
   ms_gateway → ms_orders mapping @user to orders:write) and orders at ms_orders, which exchanges
   again to charge at ms_payments: sub user:login-example-test:alice, actors ms_orders then
   ms_gateway, one txn,
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
import urllib.error
import urllib.request
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PY = sys.executable
LOGIN = "https://login.example.test"  # the user-token issuer the story plays
GATEWAY = "https://gateway.internal"


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


def ports(count: int) -> list[int]:
    """Free loopback ports, or STORY_FIRST_PORT and the ones after it when that is set."""
    first = os.environ.get("STORY_FIRST_PORT")
    if first:
        return [int(first) + offset for offset in range(count)]
    return [free_port() for _ in range(count)]


def service(env: dict[str, str], name: str, audience: str, *scopes: str) -> None:
    manage(env, "create_service", name, "--audience", audience, *(f"--scope={scope}" for scope in scopes))
    say(f"registered service {name}: audience {audience}, scopes {' '.join(scopes) or 'none'}")


def client(env: dict[str, str], name: str, *options: str) -> dict[str, str]:
    """Register a client with create_client; its client_id and its secret, shown only now."""
    output = manage(env, "create_client", name, *options, "--json")
    return json.loads(output.strip().splitlines()[-1])


def start(script: str, env: dict[str, str], health: str) -> subprocess.Popen:
    process = subprocess.Popen([PY, str(EXAMPLES / script)], cwd=ROOT, env=env)  # noqa: S603 (ours)
    try:
        wait_until_up(health, process)
    except SystemExit:
        stop(process)
        raise
    return process


class LoginService:
    """A stand-in for the company's login service: one RSA key, made now; user tokens signed with it."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_jwks(self, path: Path) -> Path:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        path.write_text(json.dumps({"keys": [{**jwk, "kid": "login-1", "alg": "RS256", "use": "sig"}]}))
        return path

    def user_token(self, user: str) -> str:
        now = int(time.time())
        claims = {"iss": LOGIN, "aud": GATEWAY, "sub": user, "iat": now, "exp": now + 300}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "login-1"})


def alice_orders(gateway_url: str, login: LoginService, names: dict[str, str]) -> int:
    """Alice's app orders through ms_gateway with her user token; 0 when the charge is as expected."""
    say("alice signs in at the login service and her app orders through ms_gateway")
    request = urllib.request.Request(gateway_url + "/orders", method="POST", data=b"{}")  # noqa: S310
    request.add_header("Authorization", "Bearer " + login.user_token("alice"))
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (loopback)
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            status, answer = error.code, json.loads(error.read() or b"{}")
    charge = answer.get("charge", {})
    via = [names.get(actor, actor) for actor in charge.get("via", [])]
    expected = status == 201 and charge.get("for") == "user:login-example-test:alice"
    expected = expected and via == ["ms_orders", "ms_gateway"] and bool(charge.get("txn"))
    outcome = (
        f"charge {charge.get('charge')} for sub={charge.get('for')} via act={' → '.join(via)}, "
        f"txn={charge.get('txn')}"
        if status == 201
        else f"{status} {answer}"
    )
    say(f"alice's order → {outcome}  ({'as expected' if expected else 'UNEXPECTED'})")
    return 0 if expected else 1


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="authportal-story-"))
    portal_port, doctor_port, orders_port, payments_port, gateway_port = ports(5)
    issuer = f"http://127.0.0.1:{portal_port}"
    env = story_env(data_dir, issuer)
    processes: list[subprocess.Popen] = []
    try:
        say(f"portal: a fresh database in {data_dir}, issuer {issuer}")
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "ensure_signing_key")
        service(env, "ms_doctor", "https://doctors.internal", "doctors:read", "doctors:write")
        service(env, "ms_orders", "https://orders.internal", "orders:write")
        service(env, "ms_payments", "https://payments.internal", "payments:charge")
        admin_client = client(
            env, "ms_admin", "--grant", "ms_doctor:doctors:read", "--grant", "ms_orders:orders:write"
        )
        say(
            f"registered client ms_admin (client_id {admin_client['client_id']}), granted doctors:read "
            "and orders:write; its secret goes to ms_admin only"
        )
        # ms_orders' client represents the service, so it may exchange the tokens sent to ms_orders;
        # it is granted nothing of its own.
        orders_client = client(env, "ms_orders", "--service", "ms_orders")
        say(
            f"registered client ms_orders (client_id {orders_client['client_id']}) for service ms_orders, granted nothing"
        )
        edge = manage(env, "add_edge", "ms_orders", "ms_payments", "--map", "orders:write=payments:charge")
        say(edge.strip().splitlines()[-1])
        login = LoginService()
        trusted = manage(
            env,
            "add_trusted_issuer",
            LOGIN,
            "--jwks-file",
            str(login.write_jwks(data_dir / "login-jwks.json")),
            "--audience",
            GATEWAY,
        )
        say(trusted.strip().splitlines()[-1])
        service(env, "ms_gateway", GATEWAY)
        gateway_client = client(env, "ms_gateway", "--service", "ms_gateway")
        say(f"registered client ms_gateway (client_id {gateway_client['client_id']}) for service ms_gateway")
        edge = manage(env, "add_edge", "ms_gateway", "ms_orders", "--map", "@user=orders:write")
        say(edge.strip().splitlines()[-1])
        names = {
            admin_client["client_id"]: "ms_admin",
            orders_client["client_id"]: "ms_orders",
            gateway_client["client_id"]: "ms_gateway",
        }

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

        def serve(name: str, port: int, settings: dict[str, str], urls: dict[str, int] | None = None) -> None:
            """Start examples/NAME.py on PORT: its NAME_* settings (ISSUER and PORT added here) and the
            URLs of the services it calls."""
            prefix = name.upper()
            service_env = {f"{prefix}_{key}": value for key, value in settings.items()}
            service_env |= {
                f"{callee.upper()}_URL": f"http://127.0.0.1:{at}" for callee, at in (urls or {}).items()
            }
            service_env |= {f"{prefix}_ISSUER": issuer, f"{prefix}_PORT": str(port)}
            processes.append(start(f"{name}.py", {**env, **service_env}, f"http://127.0.0.1:{port}/health"))

        serve("ms_doctor", doctor_port, {"CALLERS": json.dumps({admin_client["client_id"]: "ms_admin"})})
        serve(
            "ms_payments",
            payments_port,
            {
                "ORDERS_CLIENT_ID": orders_client["client_id"],
                "GATEWAY_CLIENT_ID": gateway_client["client_id"],
                "CALLERS": json.dumps(names),
            },
        )
        serve(
            "ms_orders",
            orders_port,
            {
                "CLIENT_ID": orders_client["client_id"],
                "CLIENT_SECRET": orders_client["client_secret"],
                "CALLERS": json.dumps(names),
            },
            urls={"ms_payments": payments_port},
        )
        serve(
            "ms_gateway",
            gateway_port,
            {"CLIENT_ID": gateway_client["client_id"], "CLIENT_SECRET": gateway_client["client_secret"]},
            urls={"ms_orders": orders_port},
        )

        say("ms_admin calls ms_doctor, then ms_orders")
        admin = subprocess.run(  # noqa: S603 (our own commands)
            [PY, str(EXAMPLES / "ms_admin.py")],
            cwd=ROOT,
            timeout=60,
            env={
                **env,
                "MS_ADMIN_ISSUER": issuer,
                "MS_ADMIN_CLIENT_ID": admin_client["client_id"],
                "MS_ADMIN_CLIENT_SECRET": admin_client["client_secret"],
                "MS_DOCTOR_URL": f"http://127.0.0.1:{doctor_port}",
                "MS_ORDERS_URL": f"http://127.0.0.1:{orders_port}",
            },
        )
        surprises = admin.returncode != 0
        surprises += alice_orders(f"http://127.0.0.1:{gateway_port}", login, names)
        if surprises:
            say("some answers were not the expected ones; the portal's log:")
            print((data_dir / "portal.log").read_text()[-4000:])
            return 1
        say(
            "done: authentication by the portal, authorization by each service, "
            "delegation only along the declared edges; every answer as expected"
        )
        return 0
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
