"""Settings come from the environment (PRODUCT §12, §13 "Settings (environment)").

Settings are read once per process, so each environment is tried in a fresh interpreter.
"""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from leadcrm.settings import email_settings

# Variables these tests set themselves: a developer's own environment must not leak in.
OURS = [
    "DATABASE_URL",
    "DEBUG",
    "SECRET_KEY",
    "SUPPRESSION_KEY",
    "ALLOWED_HOSTS",
    "LEADCRM_VAR_DIR",
    "EMAIL_URL",
    "EMAIL_HOST",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by conftest for Playwright; check --deploy refuses it
]

PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "ENGINE": db["ENGINE"],
    "NAME": str(db["NAME"]),
    "HOST": db.get("HOST", ""),
    "DEBUG": settings.DEBUG,
    "EMAIL_BACKEND": settings.EMAIL_BACKEND,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
}))
"""


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in OURS}
    environ["DJANGO_SETTINGS_MODULE"] = "leadcrm.settings"
    environ.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings_under(**env: str) -> dict:
    result = _run(["-c", PRINT_SETTINGS], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _production_env(**extra: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SUPPRESSION_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "example.com",
        **extra,
    }


def test_without_database_url_the_database_is_sqlite_in_var():
    db = _settings_under()
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"].startswith(str(settings.BASE_DIR / "var") + os.sep)


def test_database_url_selects_postgresql():
    db = _settings_under(DATABASE_URL="postgres://root@127.0.0.1:5432/x")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["NAME"] == "x"
    assert db["HOST"] == "127.0.0.1"


def test_debug_is_on_by_default():
    assert _settings_under()["DEBUG"] is True


def test_ssl_redirect_is_on_by_default_when_debug_is_off():
    assert _settings_under(**_production_env())["SECURE_SSL_REDIRECT"] is True


def test_ssl_redirect_can_be_turned_off_behind_a_tls_proxy():
    env = _production_env(SECURE_SSL_REDIRECT="0")
    assert _settings_under(**env)["SECURE_SSL_REDIRECT"] is False


def test_email_url_in_the_environment_selects_the_backend():
    env = {"EMAIL_URL": "smtp://mail.example.com:2525"}
    assert _settings_under(**env)["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


def test_debug_off_without_secret_key_fails_to_start():
    result = _run(["-c", PRINT_SETTINGS], DEBUG="0", SUPPRESSION_KEY="s" * 40)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_debug_off_without_suppression_key_fails_to_start():
    result = _run(["-c", PRINT_SETTINGS], DEBUG="0", SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SUPPRESSION_KEY" in result.stderr


def test_check_deploy_is_clean_with_debug_off():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **_production_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_email_settings_reads_an_smtp_url():
    assert email_settings("smtp://user:p%40ss@mail.example.com:2525?tls=1") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "user",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_SSL": False,
        "EMAIL_USE_TLS": True,
    }


def test_email_settings_smtps_uses_ssl_on_port_465():
    result = email_settings("smtps://host")
    assert result["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (result["EMAIL_HOST"], result["EMAIL_PORT"]) == ("host", 465)
    assert (result["EMAIL_USE_SSL"], result["EMAIL_USE_TLS"]) == (True, False)


def test_email_settings_submission_uses_starttls_on_port_587():
    result = email_settings("submission://host")
    assert (result["EMAIL_HOST"], result["EMAIL_PORT"]) == ("host", 587)
    assert (result["EMAIL_USE_SSL"], result["EMAIL_USE_TLS"]) == (False, True)


def test_email_settings_plain_smtp_defaults_to_port_25_without_encryption():
    result = email_settings("smtp://host")
    assert result["EMAIL_PORT"] == 25
    assert (result["EMAIL_USE_SSL"], result["EMAIL_USE_TLS"]) == (False, False)


def test_email_settings_console_prints_mail():
    result = email_settings("console://")
    assert result["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_email_settings_rejects_an_unknown_scheme():
    with pytest.raises(ImproperlyConfigured, match="sendgrid"):
        email_settings("sendgrid://key@api")
