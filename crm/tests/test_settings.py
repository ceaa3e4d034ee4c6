"""Production settings: `check --deploy` is clean, and a missing secret stops the start."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    environment = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "DEBUG")}
    environment.update({"DJANGO_SETTINGS_MODULE": "crm.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_nothing_in_production_settings():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="crm.example.com",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_when_debug_is_off():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_every_app_with_tests_is_collected():
    """pytest.ini's testpaths must name every app that has a tests package, or `make test`
    silently skips it (it did, for a while, with customers/ and audit/)."""
    import configparser

    from django.apps import apps
    from django.conf import settings as django_settings

    config = configparser.ConfigParser()
    config.read(django_settings.BASE_DIR / "pytest.ini")
    testpaths = set(config["pytest"]["testpaths"].split())
    with_tests = {
        app.name
        for app in apps.get_app_configs()
        if app.path.startswith(str(django_settings.BASE_DIR)) and (Path(app.path) / "tests").is_dir()
    }
    with_tests.discard("crm.tests.scopeapp")
    assert with_tests <= testpaths, sorted(with_tests - testpaths)
