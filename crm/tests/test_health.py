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
    settings.REDIS_URL = "redis://user:secret@127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"]["ok"] is False and body["celery"]["ok"] is False
    assert "secret" not in response.content.decode()  # no connection details on a public page
    assert time.monotonic() - started < settings.REDIS_SOCKET_TIMEOUT * 2 + 1


@pytest.fixture
def hung_redis():
    """A TCP server that accepts connections and never answers: a Redis that hangs."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    server.close()


def test_a_hung_redis_cannot_hold_healthz(client, settings, hung_redis):
    settings.REDIS_URL = hung_redis
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
    assert time.monotonic() - started < settings.REDIS_SOCKET_TIMEOUT * 2 + 1


def test_a_hung_broker_fails_a_publish_within_seconds(settings, hung_redis):
    from kombu.exceptions import OperationalError

    from crm.celery import app
    from staff.tasks import clear_expired_sessions_task

    started = time.monotonic()
    with app.connection_for_write(hung_redis) as connection, pytest.raises(OperationalError):
        clear_expired_sessions_task.apply_async(connection=connection)
    assert time.monotonic() - started < settings.REDIS_SOCKET_TIMEOUT * 3 + 1
