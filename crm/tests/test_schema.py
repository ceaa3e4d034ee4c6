"""Property-based contract test: Schemathesis fuzzes every operation of the served OpenAPI schema
(/api/schema/) in-process through Django's WSGI application, authenticated with a bearer token,
and checks that the API never answers 5xx and that every answer is one the schema documents
(status code, content type, body schema).

Each generated request runs inside a savepoint that is rolled back afterwards, with the cache (the
auth throttle counters) and axes' failure records cleared before it, so every example sees the same
seed data: the run is reproducible (fixed seed, derandomized Hypothesis, no example database) and
throttling or lockout cannot carry over from one example to the next."""

import pytest
import schemathesis
from axes.utils import reset as axes_reset
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from werkzeug.test import Client

from crm.api.throttling import AuthRateThrottle
from crm.tests.scopeapp.models import Note, NoteLink
from staff.services import department_create, role_create, user_create

# Schemathesis' WSGI client sends `Host: localhost`; allowed whatever DEBUG the run has.
HOST = "localhost"
PASSWORD = "Schema-Fuzz-Passw0rd!"
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240601,
        "generation": {"deterministic": True, "database": "none", "with-security-parameters": False},
        # Only these checks run: no 5xx, and every answer is one the schema documents.
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)


def _load_schema():
    # Loaded at collection (one in-process GET, no database access) so that every operation
    # becomes a test of its own: test_api_conforms_to_schema[GET /api/v1/me/] and so on.
    app = get_wsgi_application()
    with override_settings(ALLOWED_HOSTS=[*django_settings.ALLOWED_HOSTS, HOST]):
        return schemathesis.openapi.from_wsgi("/api/schema/", app, config=CONFIG)


schema = _load_schema()


@pytest.fixture
def wsgi_app(db, settings):
    """The project's WSGI application, called in-process on the test's own database connection.

    Like Django's test client, keep `close_old_connections` off the request signals: inside the
    test's transaction autocommit is off, and it would close the connection that holds it."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schema.app
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_user(db):
    """A user who sees and may do everything in the scope app, with a little data around it so
    that list and detail answers carry real objects: a sub-department, a colleague (whose contact
    details the user may not see) reporting to the user, and a note with a link."""
    department = department_create(name="契约测试部")
    department_create(name="契约测试一组", parent=department)
    role = role_create(
        name="schema-fuzz",
        data_scope="all",
        permissions=list(Permission.objects.filter(content_type__app_label="scopeapp")),
    )
    user = user_create(
        username="schema-fuzz",
        password=PASSWORD,
        display_name="契约测试",
        mobile=None,
        department=department,
        roles=[role],
        is_superuser=False,
    )
    user_create(
        username="schema-colleague",
        password=PASSWORD,
        display_name="同事",
        mobile="13800138000",
        email="colleague@example.com",
        department=department,
        manager=user,
    )
    note = Note.objects.create(title="seed note", owner=user, department=department, created_by=user)
    NoteLink.objects.create(note=note, comment="seed link", owner=user, department=department, created_by=user)
    return user


@pytest.fixture
def auth_headers(fuzz_user, wsgi_app):
    """Log in through the real token endpoint, as an API client would."""
    cache.clear()
    response = Client(wsgi_app).post(
        "/api/v1/auth/token/",
        json={"username": fuzz_user.username, "password": PASSWORD},
        headers={"Host": HOST},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.json['access']}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_schema(case, auth_headers):
    cache.clear()
    axes_reset()
    with transaction.atomic():
        case.call_and_validate(headers=auth_headers)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_auth_throttle_and_lockout_answers_are_documented(wsgi_app, settings):
    """The auth endpoints are fuzzed above with throttle and lockout reset for every example; here
    both are driven on purpose, and their 429 answer must be one the schema documents."""
    for path in ("/api/v1/auth/token/", "/api/v1/auth/token/refresh/"):
        assert "429" in schema[path]["POST"].definition.raw["responses"], f"{path}: 429 is not documented"

    operation = schema["/api/v1/auth/token/"]["POST"]

    def attempt(username):
        case = operation.Case(body={"username": username, "password": "wrong"}, media_type="application/json")
        response = case.call()
        case.validate_response(response)
        return response.status_code

    # Lockout: the same login name from the same IP fails until axes locks the pair.
    cache.clear()
    axes_reset()
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [attempt("locked-name") for _ in range(limit + 1)]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert statuses == sorted(statuses), statuses  # wrong password answers, then locked out

    # Throttle: distinct names (no lockout) until the per-IP rate runs out.
    cache.clear()
    axes_reset()
    allowed, _ = AuthRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"])
    statuses = [attempt(f"nobody-{i}") for i in range(allowed + 1)]
    assert statuses == [401] * allowed + [429]
