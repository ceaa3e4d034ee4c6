"""What activities plugs into other apps, from ActivitiesConfig.ready(): the customer's 360
timeline, what moves in a merge and follows a transfer, and the reminder kinds it owns (task
due, next follow-up due, contact birthday)."""

import calendar

from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce, ExtractDay, ExtractMonth
from django.utils.translation import gettext_lazy as _

from notifications import reminders
from notifications.reminders import DAILY, FREQUENT, ReminderKind, day_bounds, local_today

# A task whose reminder moment passed longer ago than this is not reminded any more (a task
# created already overdue, or after an outage): the 待办 page shows it as overdue instead.
TASK_REMINDER_WINDOW_HOURS = 24


def task_due_rows(now):
    """Open tasks whose reminder moment (remind_at, else due_at) has come, for their assignee;
    the occasion is that moment, so a rescheduled task is reminded again."""
    from datetime import timedelta

    from activities.models import Task
    from activities.selectors import unlinked_or_alive_customer

    moment = Coalesce("remind_at", "due_at")
    return (
        Task.objects.open()
        .alias(moment=moment)
        .filter(moment__lte=now, moment__gt=now - timedelta(hours=TASK_REMINDER_WINDOW_HOURS))
        .filter(unlinked_or_alive_customer())
        .annotate(
            target_id=F("pk"),
            recipient_id=F("assignee_id"),
            occasion=Cast(moment, CharField()),
            task_title=F("title"),
            task_due_at=F("due_at"),
        )
    )


def next_follow_up_rows(now):
    """Live customers whose next follow-up falls on today (Asia/Shanghai), for their owner —
    unless the owner already has an open task on that customer due today (reminded as a task)."""
    from activities.models import Task
    from customers.models import Customer

    start, end = day_bounds(now)
    task_today = Task.objects.open().filter(
        customer_id=OuterRef("pk"), assignee_id=OuterRef("owner_id"), due_at__gte=start, due_at__lt=end
    )
    return (
        Customer.objects.alive()
        .filter(owner__isnull=False, next_follow_up_at__gte=start, next_follow_up_at__lt=end)
        .filter(~Exists(task_today))
        .annotate(
            target_id=F("pk"),
            recipient_id=F("owner_id"),
            occasion=Value(local_today(now).isoformat(), output_field=CharField()),
            customer_name=F("name"),
            next_at=F("next_follow_up_at"),
        )
    )


def birthday_rows(now):
    """Contacts whose birthday is today (Asia/Shanghai; 29 February on the 28th in other years),
    for the customer's owner, once a year."""
    from customers.models import Contact

    today = local_today(now)
    days = Q(birthday_month=today.month, birthday_day=today.day)
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days |= Q(birthday_month=2, birthday_day=29)
    return (
        Contact.objects.filter(customer__deleted_at__isnull=True, customer__owner__isnull=False)
        .alias(birthday_month=ExtractMonth("birthday"), birthday_day=ExtractDay("birthday"))
        .filter(birthday__isnull=False)
        .filter(days)
        .annotate(
            target_id=F("pk"),
            recipient_id=F("customer__owner_id"),
            occasion=Value(str(today.year), output_field=CharField()),
            contact_name=F("name"),
            customer_name=F("customer__name"),
            customer_ref=F("customer_id"),
        )
    )


def _tasks_link(row):
    return "/tasks/"


def _customer_link(row):
    return f"/customers/{row['target_id']}/"


def _contact_customer_link(row):
    return f"/customers/{row['customer_ref']}/"


KINDS = [
    ReminderKind(
        key="task_due",
        rows=task_due_rows,
        fields=("task_title", "task_due_at"),
        title=_("待办提醒：%(task_title)s"),
        body=_("截止时间：%(task_due_at)s"),
        link=_tasks_link,
        cadence=FREQUENT,
        label=_("待办到期"),
    ),
    ReminderKind(
        key="next_follow_up",
        rows=next_follow_up_rows,
        fields=("customer_name", "next_at"),
        title=_("今日需跟进：%(customer_name)s"),
        body=_("计划跟进时间：%(next_at)s"),
        link=_customer_link,
        cadence=DAILY,
        label=_("下次跟进"),
    ),
    ReminderKind(
        key="birthday",
        rows=birthday_rows,
        fields=("contact_name", "customer_name", "customer_ref"),
        title=_("生日祝福：今天是 %(customer_name)s %(contact_name)s 的生日"),
        body=_("送上一句生日祝福吧。"),
        link=_contact_customer_link,
        cadence=DAILY,
        label=_("生日祝福"),
    ),
]


def register():
    from activities import selectors, services
    from customers import selectors as customer_selectors
    from customers import services as customer_services
    from customers.api import views as customer_api

    customer_selectors.TIMELINE_SOURCES["activities"] = selectors.customer_timeline_entries
    # The 360 overview's timeline: the customer's latest follow-ups, as the follow-up list gives them.
    customer_api.OVERVIEW_PARTS["timeline"] = customer_api.overview_list("api:followup-list", ordering="-occurred_at")
    customer_services.MERGE_MOVERS["activities"] = services.activities_merge
    customer_services.TRANSFER_FOLLOWERS["tasks"] = services.tasks_follow_transfer
    for kind in KINDS:
        reminders.register(kind)
