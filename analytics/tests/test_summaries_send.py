"""The summaries' e-mails: beat sends exactly one per due subscription per period, in the
subscriber's language, with figures of the subscriber's own scope; a second run sends nothing new;
one failure does not stop the others — run directly and through a real Celery worker."""

import datetime
import email
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

from analytics.models import SummaryDelivery, SummaryFrequency, SummarySubscription
from analytics.summary_services import summaries_send
from analytics.tasks import summaries_send_task
from analytics.tests.test_summaries import DAY_ONE, at, contract, customer
from crm.celery import app as celery_app
from notifications.models import NotificationPreference
from staff.models import DataScope

ROOT = Path(__file__).resolve().parents[2]


def subscribe(user, frequency, department=None, **kwargs):
    return SummarySubscription.objects.create(user=user, frequency=frequency, department=department, **kwargs)


def _by_recipient():
    return {message.to[0]: message for message in mail.outbox}


def _html(message):
    return next(content for content, mime in message.alternatives if mime == "text/html")


@pytest.mark.django_db
def test_one_email_per_due_subscription_and_none_on_a_second_run(org):
    east, s1 = org.departments["east"], org.departments["s1"]
    subscribe(org.east_rep, SummaryFrequency.DAILY)
    subscribe(org.s1_director, SummaryFrequency.DAILY, s1)
    subscribe(org.s1_director, SummaryFrequency.DAILY)  # themselves too: a second e-mail
    subscribe(org.east_manager, SummaryFrequency.DAILY, east)
    subscribe(org.east_manager, SummaryFrequency.WEEKLY, east)  # not due in a daily run
    subscribe(org.south_rep, SummaryFrequency.DAILY, active=False)
    subscribe(org.inactive, SummaryFrequency.DAILY)
    org.north_other.email = ""
    org.north_other.save(update_fields=["email"])
    subscribe(org.north_other, SummaryFrequency.DAILY)

    result = summaries_send_task("daily", DAY_ONE.isoformat())

    assert result == {"period_start": "2025-03-31", "period_end": "2025-03-31", "sent": 4, "skipped": 0, "failed": []}
    assert sorted(message.to[0] for message in mail.outbox) == [
        "east_manager@example.com",
        "east_rep@example.com",
        "s1_director@example.com",
        "s1_director@example.com",
    ]
    assert {message.subject for message in mail.outbox} >= {
        "日报 · 销售一部 · 2025-03-31",
        "日报 · 华东组 · 2025-03-31",
    }
    assert SummaryDelivery.objects.count() == 4

    # The same period again (a second beat, a retry): nothing new.
    again = summaries_send_task("daily", DAY_ONE.isoformat())
    assert again["sent"] == 0 and len(mail.outbox) == 4
    assert SummaryDelivery.objects.count() == 4

    # The next day is a new period.
    summaries_send(frequency=SummaryFrequency.DAILY, day=DAY_ONE + datetime.timedelta(days=1))
    assert len(mail.outbox) == 8


@pytest.mark.django_db
def test_weekly_and_monthly_cover_the_whole_period(org):
    subscribe(org.east_rep, SummaryFrequency.WEEKLY)
    subscribe(org.east_rep, SummaryFrequency.MONTHLY)
    customer(org.east_rep, created=at(datetime.date(2025, 4, 6), 23, 59, 59))

    week = summaries_send(frequency=SummaryFrequency.WEEKLY, day=DAY_ONE)
    month = summaries_send(frequency=SummaryFrequency.MONTHLY, day=DAY_ONE)
    assert (week["period_start"], week["period_end"]) == ("2025-03-31", "2025-04-06")
    assert (month["period_start"], month["period_end"]) == ("2025-03-01", "2025-03-31")
    weekly, monthly = mail.outbox
    assert weekly.subject == "周报 · " + org.east_rep.get_full_name() + " · 2025-W14（2025-03-31 ~ 2025-04-06）"
    assert "新增客户：1（上期 0" in weekly.body
    assert monthly.subject.startswith("月报 · ") and "新增客户：0（上期 0" in monthly.body


@pytest.mark.django_db
def test_the_figures_are_the_subscribers_scope_at_send_time(org):
    s1 = org.departments["s1"]
    mine = customer(org.east_rep, created=at(DAY_ONE, 9))
    contract(org.east_rep, signed=DAY_ONE, total="1234.50", customer_=mine)
    theirs = customer(org.north_rep, created=at(DAY_ONE, 9))
    contract(org.north_rep, signed=DAY_ONE, total="99999.00", customer_=theirs)
    subscription = subscribe(org.s1_director, SummaryFrequency.DAILY, s1)

    summaries_send(frequency=SummaryFrequency.DAILY, day=DAY_ONE)
    (message,) = mail.outbox
    assert "签约合同金额：¥1,234.50（上期 ¥0.00" in message.body
    assert "¥1,234.50" in _html(message)
    assert "99,999" not in message.body and "99,999" not in _html(message)
    assert "新增客户：1（" in message.body

    # Their role narrowed to "self" since: the department's summary is no longer theirs to receive.
    org.s1_director.roles.set([org.roles[DataScope.SELF]])
    result = summaries_send(frequency=SummaryFrequency.DAILY, day=DAY_ONE + datetime.timedelta(days=1))
    assert result["sent"] == 0 and result["skipped"] == 1 and len(mail.outbox) == 1
    assert not SummaryDelivery.objects.filter(
        subscription=subscription, period_start=DAY_ONE + datetime.timedelta(days=1)
    ).exists()


@pytest.mark.django_db
def test_chinese_by_default_english_when_the_person_chose_it(org):
    subscribe(org.east_rep, SummaryFrequency.DAILY)
    subscribe(org.south_rep, SummaryFrequency.DAILY)
    NotificationPreference.objects.create(user=org.south_rep, language="en")

    summaries_send(frequency=SummaryFrequency.DAILY, day=DAY_ONE)
    messages = _by_recipient()
    chinese, english = messages["east_rep@example.com"], messages["south_rep@example.com"]
    assert "你好" in chinese.body and '<html lang="zh-hans">' in _html(chinese)
    assert "Hello" in english.body and "CRM" in english.body and '<html lang="en">' in _html(english)
    assert chinese.alternatives and english.alternatives  # HTML and text
    assert f"{settings.SITE_URL}/analytics/summary/?period=day&date=2025-03-31&subject=user%3A{org.east_rep.pk}" in (
        chinese.body
    )


@pytest.mark.django_db
def test_a_failure_for_one_subscriber_does_not_stop_the_others(org, monkeypatch):
    for user in (org.east_rep, org.south_rep, org.north_rep):
        subscribe(user, SummaryFrequency.DAILY)
    real_send = EmailBackend.send_messages

    def refusing(self, messages):
        if any("south_rep@example.com" in message.to for message in messages):
            raise ConnectionRefusedError("the mail server refused")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refusing)
    result = summaries_send(frequency=SummaryFrequency.DAILY, day=DAY_ONE)
    south = SummarySubscription.objects.get(user=org.south_rep)
    assert result["sent"] == 2 and result["failed"] == [south.pk]
    assert sorted(_by_recipient()) == ["east_rep@example.com", "north_rep@example.com"]
    assert not SummaryDelivery.objects.filter(subscription=south).exists()  # its claim rolled back

    # The task retries the same period; the retry sends only what is missing.
    with pytest.raises(Retry):  # called directly: the Retry a worker would schedule
        summaries_send_task("daily", DAY_ONE.isoformat())
    assert len(mail.outbox) == 2
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    retried = summaries_send_task("daily", DAY_ONE.isoformat())
    assert retried["sent"] == 1 and len(mail.outbox) == 3
    assert SummaryDelivery.objects.filter(period_start=DAY_ONE).count() == 3


@pytest.mark.django_db
def test_the_admin_lists_subscriptions_and_what_was_sent(org, client):
    subscribe(org.east_rep, SummaryFrequency.DAILY)
    summaries_send(frequency=SummaryFrequency.DAILY, day=DAY_ONE)
    client.force_login(org.admin)
    for name in ("summarysubscription", "summarydelivery"):
        response = client.get(f"/admin/analytics/{name}/")
        assert response.status_code == 200 and str(org.east_rep) in response.content.decode()


def test_beat_sends_each_frequency_at_eight():
    entries = {entry["kwargs"]["frequency"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
               if entry["task"] == "analytics.tasks.summaries_send_task"}  # fmt: skip
    assert set(entries) == {"daily", "weekly", "monthly"}
    daily, weekly, monthly = entries["daily"]["schedule"], entries["weekly"]["schedule"], entries["monthly"]["schedule"]
    assert daily.hour == weekly.hour == monthly.hour == {8} and daily.minute == {0}
    assert weekly.day_of_week == {1} and monthly.day_of_month == {1}
    assert daily.day_of_week == set(range(7)) and daily.day_of_month == set(range(1, 32))


# --- through a real Celery worker --------------------------------------------------------------------


def _wait(predicate, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, mail_dir):
    """A worker subprocess (as in the Procfile) writing its e-mails as files into ``mail_dir``."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_BROKER_URL": settings.CELERY_BROKER_URL,
        "EMAIL_URL": f"filemail:///{mail_dir}",  # django-environ drops one leading slash of the path
    }
    celery_app.control.purge()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm", "worker", "--queues", "notifications", "--pool", "solo",
         "--loglevel", "WARNING", "--hostname", f"summaries-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        up = _wait(lambda: bool(celery_app.control.ping(timeout=0.5)))
        assert up, process.stderr.read1(20_000).decode() if process.poll() is not None else "worker did not answer"
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _mailed(mail_dir):
    """The messages the worker wrote (the file backend appends each after a line of dashes)."""
    found = []
    for path in sorted(Path(mail_dir).glob("*.log")):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                found.append(email.message_from_string(chunk.strip()))
    return found


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_each_summary_once(worker, mail_dir, org):
    mine = customer(org.east_rep, created=at(DAY_ONE, 9))
    contract(org.east_rep, signed=DAY_ONE, total="1234.50", customer_=mine)
    subscribe(org.east_rep, SummaryFrequency.DAILY)
    subscribe(org.s1_director, SummaryFrequency.DAILY, org.departments["s1"])

    summaries_send_task.delay("daily", DAY_ONE.isoformat())
    assert _wait(lambda: SummaryDelivery.objects.count() == 2)
    assert _wait(lambda: len(_mailed(mail_dir)) == 2), _mailed(mail_dir)
    recipients = sorted(message["To"] for message in _mailed(mail_dir))
    assert recipients == ["east_rep@example.com", "s1_director@example.com"]

    # Two more deliveries of the same beat: nothing new. The solo worker takes its queue in order,
    # so once the marker (the next day's run) has sent, the two before it have run.
    summaries_send_task.delay("daily", DAY_ONE.isoformat())
    summaries_send_task.delay("daily", DAY_ONE.isoformat())
    summaries_send_task.delay("daily", (DAY_ONE + datetime.timedelta(days=1)).isoformat())
    assert _wait(lambda: SummaryDelivery.objects.count() == 4)
    assert _wait(lambda: len(_mailed(mail_dir)) == 4)
    time.sleep(1)
    assert len(_mailed(mail_dir)) == 4
    assert SummaryDelivery.objects.filter(period_start=DAY_ONE).count() == 2
