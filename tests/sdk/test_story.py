"""The runnable story, end to end: the portal, ms_doctor, ms_orders, ms_payments, ms_gateway and
ms_admin as real processes on loopback (STORY_FIRST_PORT, when set, picks their ports), and alice
ordering through the gateway with a user token from a login service the story plays."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="the story runs POSIX processes")
def test_the_story_runs_with_every_answer_as_expected():
    # One run of the story (15–30 s) proves its three parts: ms_admin → ms_doctor, the three ways
    # ms_orders may call ms_payments on ms_admin's behalf, and alice → ms_gateway → ms_orders → ms_payments.
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

    # 1. Forwarding ms_admin's token: it is addressed to ms_orders, so ms_payments refuses it.
    assert (
        'ms_payments │ POST /charges: refused, 401 Unauthorized  Bearer realm="ms_payments", '
        'error="invalid_token", error_description="wrong audience"'
    ) in lines
    assert "forward ms_admin's token    → refused by ms_payments: 401 invalid_token (wrong audience)" in lines
    # 2. God mode: ms_orders' own client is granted nothing at ms_payments, so the portal says no.
    assert (
        "its own token (god mode)    → refused by the portal: invalid_scope "
        "(The scope payments:charge is unknown or not granted to this client.)"
    ) in lines
    # 3. Delegation: the exchanged token names ms_admin as sub and ms_orders as the one actor.
    accepted = lines[lines.index("ms_payments │ POST /charges: accepted") :]
    assert "sub       ms_admin (" in accepted
    assert "act       ms_orders (" in accepted
    assert "client_id ms_orders (" in accepted
    assert "aud       https://payments.internal" in accepted
    assert "scope     payments:charge\n" in accepted
    txn = re.search(r"txn       (\S+)\n", accepted)
    assert txn is not None and txn.group(1) != "—"
    assert "exchange ms_admin's token   → accepted: charge ch_" in lines
    assert "for sub=ms_admin via act=" in lines and f"txn={txn.group(1)}" in lines

    # 4. A user: alice's token from the trusted login service, exchanged by ms_gateway (…:jwt), then
    # again by ms_orders. ms_payments sees alice's namespaced id, both actors nearest first, one txn.
    users = lines[lines.index("alice signs in at the login service") :]
    at_orders = users[users.index("ms_orders   │ POST /orders") : users.index("ms_payments │ POST /charges")]
    at_payments = users[users.index("ms_payments │ POST /charges: accepted") :]
    assert "sub       user:login-example-test:alice " in at_payments
    assert re.search(r"act       ms_orders \(\S+\) → ms_gateway \(\S+\)   who acted", at_payments)
    assert "act       ms_gateway (" in at_orders
    first_hop, second_hop = (re.search(r"txn       (\S+)\n", part) for part in (at_orders, at_payments))
    assert first_hop is not None and second_hop is not None
    assert first_hop.group(1) == second_hop.group(1) != "—"
    assert "alice's order → charge ch_" in users
    assert (
        f"sub=user:login-example-test:alice via act=ms_orders → ms_gateway, txn={first_hop.group(1)}" in users
    )
