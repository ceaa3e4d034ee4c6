import time

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_is_503_without_a_worker(client):
    # No worker listens on the suite's own broker database (test_celery stops the one it starts).
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["celery"]["ok"] is False
    assert response.json()["database"]["ok"] is True


def test_healthz_is_503_quickly_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"]["ok"] is False and body["celery"]["ok"] is False
    assert time.monotonic() - started < settings.REDIS_SOCKET_TIMEOUT * 2 + 1
