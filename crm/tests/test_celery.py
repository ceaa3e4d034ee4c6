"""A real Celery worker (a subprocess, as in the Procfile) against Redis and the test database."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone

from crm.celery import app as celery_app
from crm.models import PeriodicRun
from crm.periodic import period_key, run_once_per_period
from staff.tasks import clear_expired_sessions_task, purge_old_login_attempts_task

ROOT = Path(__file__).resolve().parents[2]
WORKER_START_SECONDS = 60
EFFECT_WAIT_SECONDS = 30


def _wait(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings_test",
        "DATABASE_URL": database_url,
        "TEST_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    celery_app.control.purge()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "--queues", "default,notifications,analytics",
         "--pool", "solo", "--loglevel", "WARNING", "--hostname", f"test-{os.getpid()}@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        up = _wait(lambda: bool(celery_app.control.ping(timeout=0.5)), WORKER_START_SECONDS)
        assert up, process.stderr.read1(20_000).decode() if process.poll() is not None else "worker did not answer"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_periodic_task_once_per_period(worker):
    Session.objects.create(session_key="old", session_data="", expire_date=timezone.now() - timedelta(days=1))
    Session.objects.create(session_key="live", session_data="", expire_date=timezone.now() + timedelta(days=1))

    clear_expired_sessions_task.delay()
    assert _wait(lambda: PeriodicRun.objects.filter(finished_at__isnull=False).exists(), EFFECT_WAIT_SECONDS)
    assert set(Session.objects.values_list("session_key", flat=True)) == {"live"}
    run = PeriodicRun.objects.get()
    assert (run.job, run.period, run.result) == ("staff.clear_expired_sessions", period_key(), {"deleted": 1})

    # A second beat (or a redelivery) in the same period does nothing.
    Session.objects.create(session_key="old2", session_data="", expire_date=timezone.now() - timedelta(days=1))
    clear_expired_sessions_task.delay()
    clear_expired_sessions_task.delay()
    # The solo worker takes one queue in order: once this marker task has run, so have the two above.
    purge_old_login_attempts_task.delay()
    assert _wait(lambda: PeriodicRun.objects.filter(job="staff.purge_old_login_attempts").exists(), EFFECT_WAIT_SECONDS)
    assert PeriodicRun.objects.filter(job="staff.clear_expired_sessions").count() == 1
    assert Session.objects.filter(session_key="old2").exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_healthz_reports_the_worker_up(worker, client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"] and body["celery"]["ok"]
    assert body["celery"]["workers"]


@pytest.mark.django_db(transaction=True)
def test_delay_on_commit_waits_for_the_commit(monkeypatch):
    sent = []
    monkeypatch.setattr(clear_expired_sessions_task, "delay", lambda *a, **k: sent.append(a))
    with transaction.atomic():
        clear_expired_sessions_task.delay_on_commit()
        assert sent == []
    assert sent == [()]

    with pytest.raises(RuntimeError), transaction.atomic():
        clear_expired_sessions_task.delay_on_commit()
        raise RuntimeError("rolled back")
    assert sent == [()]


@pytest.mark.django_db
def test_run_once_per_period_runs_the_effect_once_and_again_next_period():
    calls = []

    def effect():
        calls.append(1)
        return {"n": len(calls)}

    assert run_once_per_period(job="j", period="2026-11-22", effect=effect) == (True, {"n": 1})
    assert run_once_per_period(job="j", period="2026-11-22", effect=effect) == (False, {"n": 1})
    assert run_once_per_period(job="j", period="2026-11-23", effect=effect) == (True, {"n": 2})
    assert len(calls) == 2


@pytest.mark.django_db
def test_a_failed_effect_leaves_no_claim_so_a_retry_runs_it():
    def failing():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        run_once_per_period(job="j", period="p", effect=failing)
    assert not PeriodicRun.objects.exists()
    assert run_once_per_period(job="j", period="p", effect=lambda: {"ok": True}) == (True, {"ok": True})


def test_period_key_uses_the_company_time_zone():
    from datetime import UTC, datetime

    # 2026-11-22 17:30 UTC is already 11-23 01:30 in Shanghai.
    assert period_key(now=datetime(2026, 11, 22, 17, 30, tzinfo=UTC)) == "2026-11-23"


def test_celery_is_configured_for_safe_redelivery():
    conf = celery_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_soft_time_limit < conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert {queue.name for queue in conf.task_queues} == {"default", "notifications", "analytics"}
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks
