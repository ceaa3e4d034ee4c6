"""Reminder kinds fire on the right day in Asia/Shanghai, exactly once however often beat runs."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import CharField, F, Value

from activities.tests.factories import TaskFactory
from customers.tests.factories import ContactFactory, CustomerFactory
from notifications import reminders
from notifications.models import Holiday, Notification, NotificationPreference
from notifications.services import reminders_generate
from notifications.tasks import reminders_generate_task


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def sent(kind):
    return list(Notification.objects.filter(kind=kind).values_list("recipient__username", "target_id", "occasion"))


# 2026-11-22 16:00 UTC is 2026-11-23 00:00 in Shanghai: the instants below sit either side of it.
LATE_ON_22ND = utc(2026, 11, 22, 15, 59)  # 11-22 23:59 Shanghai (already 11-22 in UTC too)
EARLY_ON_23RD = utc(2026, 11, 22, 16, 30)  # 11-23 00:30 Shanghai, still 11-22 in UTC


def test_next_follow_up_fires_on_its_day_in_shanghai(org):
    # due 11-23 09:00 Shanghai = 11-23 01:00 UTC
    customer = CustomerFactory(owner=org.east_rep, name="甲公司", next_follow_up_at=utc(2026, 11, 23, 1, 0))
    CustomerFactory(owner=None, next_follow_up_at=utc(2026, 11, 23, 1, 0))  # pool: nobody to remind
    assert reminders_generate(now=LATE_ON_22ND, keys={"next_follow_up"}) == {"next_follow_up": 0}
    assert reminders_generate(now=EARLY_ON_23RD, keys={"next_follow_up"}) == {"next_follow_up": 1}
    assert sent("next_follow_up") == [("east_rep", customer.pk, "2026-11-23")]
    note = Notification.objects.get()
    assert note.title == "今日需跟进：甲公司"
    assert note.body == "计划跟进时间：2026-11-23 09:00"  # in Shanghai time
    assert note.link == f"/customers/{customer.pk}/"


def test_next_follow_up_is_not_reminded_twice_when_a_task_is_due_that_day(org):
    customer = CustomerFactory(owner=org.east_rep, next_follow_up_at=utc(2026, 11, 23, 1, 0))
    TaskFactory(assignee=org.east_rep, customer=customer, due_at=utc(2026, 11, 23, 1, 0))
    assert reminders_generate(now=EARLY_ON_23RD, keys={"next_follow_up"}) == {"next_follow_up": 0}


def test_birthday_fires_on_the_day_in_shanghai_once_a_year(org):
    contact = ContactFactory(customer=CustomerFactory(owner=org.east_rep, name="乙公司"), name="张三")
    contact.birthday = date(1990, 11, 23)
    contact.save(update_fields=["birthday"])
    other = ContactFactory(customer=CustomerFactory(owner=org.south_rep), birthday=date(1985, 11, 22))
    ContactFactory(customer=CustomerFactory(owner=None), birthday=date(1985, 11, 23))  # pool: nobody
    assert reminders_generate(now=LATE_ON_22ND, keys={"birthday"}) == {"birthday": 1}  # 11-22 in Shanghai
    assert sent("birthday") == [("south_rep", other.pk, "2026")]
    assert reminders_generate(now=EARLY_ON_23RD, keys={"birthday"}) == {"birthday": 1}  # 11-23 in Shanghai
    assert ("east_rep", contact.pk, "2026") in sent("birthday")
    note = Notification.objects.get(recipient=org.east_rep)
    assert "乙公司" in note.title and "张三" in note.title and "生日" in note.title
    assert note.link == f"/customers/{contact.customer_id}/"
    # the same day again, and next year
    assert reminders_generate(now=EARLY_ON_23RD + timedelta(hours=8), keys={"birthday"}) == {"birthday": 0}
    assert reminders_generate(now=EARLY_ON_23RD.replace(year=2027), keys={"birthday"}) == {"birthday": 1}


def test_a_29_february_birthday_is_remembered_on_the_28th_in_other_years(org):
    ContactFactory(customer=CustomerFactory(owner=org.east_rep), birthday=date(1992, 2, 29))
    assert reminders_generate(now=utc(2027, 2, 28, 2, 0), keys={"birthday"}) == {"birthday": 1}
    assert reminders_generate(now=utc(2028, 2, 28, 2, 0), keys={"birthday"}) == {"birthday": 0}  # leap year
    assert reminders_generate(now=utc(2028, 2, 29, 2, 0), keys={"birthday"}) == {"birthday": 1}


def test_holidays_remind_owners_of_customers_from_their_lead_time_in_shanghai(org):
    CustomerFactory(owner=org.east_rep)
    CustomerFactory(owner=org.south_rep)
    spring = Holiday.objects.get(name="春节", date=date(2027, 2, 6))  # a default, 7 days ahead
    assert spring.remind_days_before == 7
    # 2027-01-30 00:00 Shanghai = 01-29 16:00 UTC
    assert reminders_generate(now=utc(2027, 1, 29, 15, 59), keys={"holiday"}) == {"holiday": 0}
    assert reminders_generate(now=utc(2027, 1, 29, 16, 0), keys={"holiday"}) == {"holiday": 2}
    assert sorted(sent("holiday")) == [("east_rep", spring.pk, "2027-02-06"), ("south_rep", spring.pk, "2027-02-06")]
    assert "春节" in Notification.objects.first().title
    assert reminders_generate(now=utc(2027, 2, 6, 1, 0), keys={"holiday"}) == {"holiday": 0}  # the day itself
    assert reminders_generate(now=utc(2027, 2, 7, 1, 0), keys={"holiday"}) == {"holiday": 0}  # past


@pytest.mark.django_db
def test_mid_autumn_is_among_the_defaults():
    assert Holiday.objects.filter(name="中秋节", date=date(2026, 9, 25)).exists()


def test_task_due_fires_at_its_reminder_time_and_again_when_rescheduled(org):
    due = utc(2026, 11, 23, 2, 0)
    task = TaskFactory(assignee=org.east_rep, title="发报价", due_at=due, remind_at=due - timedelta(hours=1))
    TaskFactory(assignee=org.east_rep, due_at=due - timedelta(hours=1), status="done")
    assert reminders_generate(now=due - timedelta(hours=1, minutes=1), keys={"task_due"}) == {"task_due": 0}
    assert reminders_generate(now=due - timedelta(minutes=59), keys={"task_due"}) == {"task_due": 1}
    note = Notification.objects.get()
    assert (note.recipient, note.target_id, note.link) == (org.east_rep, task.pk, "/tasks/")
    assert note.title == "待办提醒：发报价" and note.body == "截止时间：2026-11-23 10:00"
    assert reminders_generate(now=due, keys={"task_due"}) == {"task_due": 0}
    task.remind_at = None
    task.due_at = due + timedelta(days=1)
    task.save()
    assert reminders_generate(now=due + timedelta(days=1, minutes=1), keys={"task_due"}) == {"task_due": 1}
    # A reminder moment more than a day old is not sent any more.
    TaskFactory(assignee=org.east_rep, due_at=due - timedelta(days=3))
    assert reminders_generate(now=due + timedelta(days=1, minutes=2), keys={"task_due"}) == {"task_due": 0}


def test_inactive_recipients_get_nothing(org):
    TaskFactory(assignee=org.inactive, due_at=utc(2026, 11, 23, 2, 0))
    assert reminders_generate(now=utc(2026, 11, 23, 2, 1), keys={"task_due"}) == {"task_due": 0}


def test_reminders_are_written_in_the_recipients_language(org):
    NotificationPreference.objects.create(user=org.east_rep, language="en")
    TaskFactory(assignee=org.east_rep, title="x", due_at=utc(2026, 11, 23, 2, 0))
    TaskFactory(assignee=org.south_rep, title="x", due_at=utc(2026, 11, 23, 2, 0))
    kind = reminders.REMINDER_KINDS["task_due"]
    from django.utils import translation

    with translation.override("en"):
        english = str(kind.title) % {"task_title": "x"}
    reminders_generate(now=utc(2026, 11, 23, 2, 1), keys={"task_due"})
    assert Notification.objects.get(recipient=org.east_rep).title == english
    assert Notification.objects.get(recipient=org.south_rep).title == "待办提醒：x"


def test_running_beat_twice_creates_each_reminder_once(org):
    for n in range(30):
        TaskFactory(assignee=org.east_rep, due_at=utc(2026, 11, 23, 2, n))
    now = utc(2026, 11, 23, 3, 0)
    first = reminders_generate(now=now, cadence="frequent")
    second = reminders_generate(now=now + timedelta(minutes=5), cadence="frequent")
    assert (first["task_due"], second["task_due"]) == (30, 0)
    assert Notification.objects.count() == 30


def test_the_beat_task_runs_every_kind_of_its_cadence(org):
    TaskFactory(assignee=org.east_rep, due_at=utc(2020, 1, 1))  # long past: no reminder
    result = reminders_generate_task.apply(kwargs={"cadence": "daily"}).get()
    assert set(result) == {kind.key for kind in reminders.kinds(cadence="daily")}
    assert "task_due" not in result


def test_a_new_kind_is_a_few_lines():
    from staff.models import User

    kind = reminders.ReminderKind(
        key="test_everyone",
        rows=lambda now: User.objects.filter(is_active=True).annotate(
            target_id=F("pk"), recipient_id=F("pk"), occasion=Value("once", output_field=CharField()), who=F("username")
        ),
        fields=("who",),
        title="你好 %(who)s",
    )
    reminders.register(kind)
    try:
        assert reminders.register(kind) is kind  # idempotent
        with pytest.raises(Exception, match="already registered"):
            reminders.register(reminders.ReminderKind(key="test_everyone", rows=kind.rows, title="other"))
    finally:
        del reminders.REMINDER_KINDS["test_everyone"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_create_each_reminder_once():
    from staff.tests.factories import UserFactory

    users = [UserFactory() for _ in range(5)]
    due = utc(2026, 11, 23, 2, 0)
    for user in users:
        for n in range(20):
            TaskFactory(assignee=user, due_at=due + timedelta(minutes=n))
    now = due + timedelta(hours=1)
    barrier = threading.Barrier(3)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(reminders_generate(now=now, keys={"task_due"})["task_due"])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(results) == 100
    assert Notification.objects.count() == 100
