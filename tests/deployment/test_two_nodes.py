"""Two nodes: two app servers on loopback, separate processes with their own caches (no Redis), on one
database. A change made through one node's portal is enforced by the other on its very next request;
and two beats firing the same scheduled tasks at once do no harm."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO

import jwt
import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditCheckpoint, AuditEvent
from keys.models import SigningKey
from keys.services import signing_key_active
from portal.services import portal_user_create
from tests.conftest import PASSWORD
from tests.keys.servers import granian_servers
from tests.servers import ROOT, manage, server_environment

pytestmark = pytest.mark.django_db(transaction=True)

DOCTORS = "https://doctors.internal"


def token(node: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{node}/o/token",
        data={"grant_type": "client_credentials", "resource": DOCTORS},
        auth=(client_id, secret),
        timeout=10,
    )


def signed_in(node: str, settings) -> requests.Session:
    """An admin's browser session on `node`'s portal."""
    # The servers hash passwords as production does (the suite's fast hasher is this process's only).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    portal_user_create(username="ops-admin", role="admin", password=PASSWORD)
    session = requests.Session()
    page = session.get(f"{node}/login/", timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    answer = session.post(
        f"{node}/login/",
        data={"username": "ops-admin", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        timeout=10,
    )
    assert answer.ok and "Sign out" in answer.text, answer.text[:500]
    return session


def post_form(session: requests.Session, url: str, **fields: str) -> requests.Response:
    """Submit the form on `url`'s page as a browser does (its CSRF token included)."""
    csrf = session.cookies["csrftoken"]
    return session.post(url, data={"csrfmiddlewaretoken": csrf, **fields}, timeout=10)


def test_what_one_node_changes_the_other_enforces_on_its_very_next_request(
    tmp_path, ms_admin, ms_doctor, settings
):
    signing_key_active()
    client = ms_admin.client
    assert manage(tmp_path, "collectstatic", "--noinput", "-v", "0").returncode == 0  # the portal's pages
    with granian_servers(tmp_path, 2) as (node_a, node_b):
        admin = signed_in(node_a, settings)
        # Node B holds the client's credentials and grants, and the signing key, in its memory.
        assert token(node_b, client.client_id, ms_admin.client_secret).status_code == 200

        # A grant revoked through A: B's next token request for it is refused.
        scope = ms_doctor.scopes.get(name="doctors:read")
        assert post_form(
            admin, f"{node_a}/grants/toggle/", client=str(client.pk), scope=str(scope.pk), action="revoke"
        ).ok
        refused = token(node_b, client.client_id, ms_admin.client_secret)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_target")
        assert post_form(
            admin, f"{node_a}/grants/toggle/", client=str(client.pk), scope=str(scope.pk), action="grant"
        ).ok
        assert token(node_b, client.client_id, ms_admin.client_secret).status_code == 200

        # A secret rotated through A with no overlap: B refuses the old one next and takes the new one.
        page = admin.get(f"{node_a}/clients/{client.pk}/rotate-secret/", timeout=10).text
        version = re.search(r'name="secret_version" value="([^"]+)"', page).group(1)
        rotated = post_form(
            admin,
            f"{node_a}/clients/{client.pk}/rotate-secret/",
            old_secret_valid_hours="0",
            secret_version=version,
        )
        new_secret = re.search(r'id="client-secret"[^>]*>([^<]+)<', rotated.text).group(1)
        assert token(node_b, client.client_id, ms_admin.client_secret).status_code == 401
        assert token(node_b, client.client_id, new_secret).status_code == 200

        # A key revoked through A: B's next token is signed by another key, and B no longer lists it.
        revoked = jwt.get_unverified_header(
            token(node_b, client.client_id, new_secret).json()["access_token"]
        )["kid"]
        assert post_form(admin, f"{node_a}/keys/{revoked}/revoke/", confirmation=revoked).ok
        assert SigningKey.objects.get(kid=revoked).state == SigningKey.State.REVOKED
        after = jwt.get_unverified_header(token(node_b, client.client_id, new_secret).json()["access_token"])[
            "kid"
        ]
        assert after != revoked
        assert revoked not in {
            key["kid"] for key in requests.get(f"{node_b}/.well-known/jwks.json", timeout=10).json()["keys"]
        }

        # The client disabled through A: B refuses it on the next request.
        assert post_form(admin, f"{node_a}/clients/{client.pk}/disable/").ok
        disabled = token(node_b, client.client_id, new_secret)
        assert (disabled.status_code, disabled.json()["error"]) == (401, "invalid_client")


BEAT = """
import os, sys, time, django
os.environ["DJANGO_SETTINGS_MODULE"] = "authportal.settings"
django.setup()
from keys.tasks import seal_audit
from keys.tasks import publish_jwks, rotate_keys
from portal.tasks import roll_up_token_usage
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))  # both beats fire at the same instant
for task in (rotate_keys, publish_jwks, seal_audit, roll_up_token_usage):
    task()
print("fired")
"""


def fire_two_beats(tmp_path) -> None:
    env = server_environment(tmp_path)
    start = time.time() + 3
    beats = [
        subprocess.Popen(
            [sys.executable, "-c", BEAT, str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [beat.communicate(timeout=120) for beat in beats]
    assert all(beat.returncode == 0 for beat in beats), outputs


def test_two_beats_firing_at_once_do_no_harm(tmp_path, ms_admin):
    # The active key is past its 30 days: the next step stages a key, the one after activates it.
    first = signing_key_active()
    long_ago = timezone.now() - timedelta(days=31)
    SigningKey.objects.filter(pk=first.pk).update(activated_at=long_ago, created_at=long_ago)
    for index in range(20):
        AuditEvent.objects.create(event="portal.login", actor=f"user-{index}", occurred_at=timezone.now())

    fire_two_beats(tmp_path)
    (staged,) = SigningKey.objects.filter(state=SigningKey.State.STAGED)  # one key staged, not two
    assert AuditEvent.objects.filter(event="key.staged").count() == 1

    SigningKey.objects.filter(pk=staged.pk).update(published_at=long_ago)  # published long enough
    fire_two_beats(tmp_path)
    assert list(SigningKey.objects.filter(state=SigningKey.State.ACTIVE).values_list("pk", flat=True)) == [
        staged.pk
    ]
    assert SigningKey.objects.get(pk=first.pk).state == SigningKey.State.RETIRED
    assert AuditEvent.objects.filter(event="key.activated", subject=f"key:{staged.kid}").count() == 1
    assert AuditEvent.objects.filter(event="key.retired", subject=f"key:{first.kid}").count() == 1
    assert not SigningKey.objects.filter(state=SigningKey.State.STAGED).exists()
    # Every event sealed once, in one unbroken chain of checkpoints that verifies.
    checkpoints = list(AuditCheckpoint.objects.order_by("seq").values_list("first_id", "last_id"))
    assert checkpoints and all(a[1] < b[0] for a, b in zip(checkpoints, checkpoints[1:], strict=False)), (
        checkpoints
    )
    out = StringIO()
    call_command("verify_audit", stdout=out)  # raises CommandError on any problem
    assert "OK: every sealed event is as it was sealed." in out.getvalue()
