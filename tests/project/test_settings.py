"""Start-up refuses bad configuration with a message naming the variable; production is check-clean."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.project.processes import ROOT, manage_py


def django_check(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return manage_py(
        tmp_path, "check", *args, without=("DEBUG", "AUTHPORTAL_ISSUER", "DJANGO_ALLOW_ASYNC_UNSAFE"), **env
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("REDIS_URL", "http://localhost"),
        ("AUTHPORTAL_ISSUER", "localhost:8000"),
        ("AUTHPORTAL_ISSUER", "https://auth.example.com/"),
        ("AUTHPORTAL_ISSUER", "https://auth.example.com?x=1"),
        ("AUTHPORTAL_SIGNING_ALG", "HS256"),
        ("AUTHPORTAL_JWKS_MAX_AGE", "soon"),
        ("AUTHPORTAL_TOKEN_LIFETIME_MAX", "7200"),
        ("SECRET_KEY_FILE", "/nonexistent/secret"),
        ("AUTHPORTAL_LOGIN_USERNAME_FAILURE_LIMIT", "3"),  # below the per-address limit, 5
        ("PORT", "http"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = django_check(tmp_path, **{name: value})
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTHPORTAL_ISSUER", "https://[::1"),
        ("AUTHPORTAL_ISSUER", "https://a\uff03b.example"),
        ("DATABASE_URL", "postgres://[::1"),
        ("REDIS_URL", "redis://]x"),
    ],
)
def test_a_url_that_cannot_be_parsed_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = django_check(tmp_path, **{name: value})
    assert result.returncode != 0
    assert result.stderr.splitlines()[-1].startswith("django.core.exceptions.ImproperlyConfigured: " + name)


def test_secrets_are_generated_once_into_the_data_directory(tmp_path):
    assert django_check(tmp_path).returncode == 0
    secret, kek = (tmp_path / "secret_key").read_text(), (tmp_path / "kek").read_text()
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert django_check(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == secret
    assert (tmp_path / "kek").read_text() == kek


def test_check_deploy_is_clean_when_configured_for_production(tmp_path):
    result = django_check(
        tmp_path,
        "--deploy",
        "--fail-level",
        "WARNING",
        AUTHPORTAL_ISSUER="https://auth.example.com",
        ALLOWED_HOSTS="auth.example.com",
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-8f3a9c",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def django_setting(tmp_path, name: str, **env: str) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = manage_py(
        tmp_path, "shell", "-v", "0", "-c", code, without=("AUTHPORTAL_ISSUER", "HOST", "PORT"), **env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_default_issuer_follows_the_port_and_host_the_server_listens_on(tmp_path):
    assert django_setting(tmp_path, "AUTHPORTAL_ISSUER") == "http://localhost:8000"
    assert django_setting(tmp_path, "AUTHPORTAL_ISSUER", PORT="18501") == "http://localhost:18501"
    assert (
        django_setting(tmp_path, "AUTHPORTAL_ISSUER", HOST="0.0.0.0", PORT="18501")
        == "http://localhost:18501"
    )
    assert (
        django_setting(tmp_path, "AUTHPORTAL_ISSUER", HOST="127.0.0.1", PORT="18502")
        == "http://127.0.0.1:18502"
    )
    explicit = {"AUTHPORTAL_ISSUER": "https://auth.example.com", "PORT": "18503"}
    assert django_setting(tmp_path, "AUTHPORTAL_ISSUER", **explicit) == "https://auth.example.com"


def test_seed_demo_prints_a_curl_line_for_the_port_it_serves_on(tmp_path):
    for args in (["migrate", "-v", "0"], ["seed_demo"]):
        without = ("AUTHPORTAL_ISSUER", "HOST", "PORT", "DATABASE_URL")
        result = manage_py(tmp_path, *args, without=without, timeout=120, PORT="18504")
        assert result.returncode == 0, result.stderr
    assert " http://localhost:18504/o/token" in result.stdout
    assert "localhost:8000" not in result.stdout


def test_the_embedded_broker_keeps_all_its_folders_in_the_data_directory(tmp_path):
    work, data = tmp_path / "work", tmp_path / "data"
    work.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    environment.update(
        {
            "AUTHPORTAL_DATA_DIR": str(data),
            "DJANGO_SETTINGS_MODULE": "authportal.settings",
            "PYTHONPATH": str(ROOT),
        }
    )
    listen = (
        "import django; django.setup()\n"
        "from authportal.celery import app\n"
        "with app.connection_for_write() as conn:\n"
        "    app.control.mailbox(conn).Node('probe@test', channel=conn.default_channel).listen().cancel()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", listen], cwd=work, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert list(work.iterdir()) == []
    assert (data / "celery-broker" / "control" / "celery.pidbox.exchange").exists()
