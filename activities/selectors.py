"""Reads of follow-ups and tasks: scoped through their customer (tasks also by assignee and
creator), related rows joined so lists cost a fixed number of queries."""

from datetime import timedelta

from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.utils import timezone

from activities.models import FollowUp, FollowUpAttachment, Task, TaskStatus
from notifications.reminders import day_bounds
from staff.scope import get_for_user, scope_filter

TIMELINE_FOLLOW_UPS = 200
TIMELINE_TASKS = 100
UPCOMING_LIMIT = 50
CALENDAR_LIMIT = 1000


def follow_up_list(*, user):
    return (
        FollowUp.objects.visible_to(user)
        .select_related("customer", "contact", "created_by")
        .prefetch_related(Prefetch("attachments", queryset=FollowUpAttachment.objects.order_by("id")))
    )


def follow_up_get_for_user(*, user, pk):
    return get_for_user(follow_up_list(user=user), user=user, pk=pk)


def attachment_get_for_user(*, user, pk, follow_up_id=None):
    """An attachment of a follow-up the user may see, or 404 (missing and out of scope alike)."""
    rows = FollowUpAttachment.objects.filter(follow_up__in=FollowUp.objects.visible_to(user).values("pk"))
    if follow_up_id is not None:
        rows = rows.filter(follow_up_id=follow_up_id)
    try:
        return rows.get(pk=pk)
    except (FollowUpAttachment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def task_list(*, user):
    return Task.objects.visible_to(user).select_related("assignee", "customer", "created_by")


def task_get_for_user(*, user, pk):
    return get_for_user(task_list(user=user), user=user, pk=pk)


def task_editable(*, user, task):
    """The assignee, the creator, or someone whose data scope holds the assignee (a manager)."""
    if user.pk in (task.assignee_id, task.created_by_id):
        return True
    managed = scope_filter(user, owner_field="assignee", department_field="assignee__department")
    return Task.objects.filter(pk=task.pk).filter(managed).exists()


def tasks_today(queryset, now=None):
    start, end = day_bounds(now)
    return queryset.filter(due_at__gte=start, due_at__lt=end)


def tasks_overdue(queryset, now=None):
    return queryset.filter(status=TaskStatus.OPEN, due_at__lt=now or timezone.now())


def task_board(*, user, now=None):
    """The 待办 page: the user's open tasks — overdue, the rest of today, upcoming (the next
    UPCOMING_LIMIT) — three small indexed queries."""
    now = now or timezone.now()
    _start, end = day_bounds(now)
    mine = _my_open_tasks(user).order_by("due_at", "id")
    return {
        "overdue": list(mine.filter(due_at__lt=now)),
        "today": list(mine.filter(due_at__gte=now, due_at__lt=end)),
        "upcoming": list(mine.filter(due_at__gte=end)[:UPCOMING_LIMIT]),
    }


def _my_open_tasks(user):
    return task_list(user=user).filter(assignee_id=user.pk, status=TaskStatus.OPEN)


def task_board_counts(*, user, now=None):
    """How many tasks ``task_board`` shows as overdue and as due later today (the workbench's
    tile): one aggregate on the assignee/status/due index, no rows loaded."""
    now = now or timezone.now()
    _start, end = day_bounds(now)
    return (
        _my_open_tasks(user)
        .filter(due_at__lt=end)
        .aggregate(overdue=Count("pk", filter=Q(due_at__lt=now)), today=Count("pk", filter=Q(due_at__gte=now)))
    )


def calendar_entries(*, user, start, end):
    """The user's tasks (by due time, cancelled ones left out) and the follow-ups they logged
    (by time) in [start, end), each capped at CALENDAR_LIMIT rows."""
    tasks = list(
        task_list(user=user)
        .filter(assignee_id=user.pk, due_at__gte=start, due_at__lt=end)
        .exclude(status=TaskStatus.CANCELLED)
        .order_by("due_at", "id")[:CALENDAR_LIMIT]
    )
    follow_ups = list(
        FollowUp.objects.visible_to(user)
        .filter(created_by_id=user.pk, occurred_at__gte=start, occurred_at__lt=end)
        .select_related("customer")
        .order_by("occurred_at", "id")[:CALENDAR_LIMIT]
    )
    return tasks, follow_ups


# --- the customer's 360 page ----------------------------------------------------------------------


def follow_ups_of(*, user, customer):
    return follow_up_list(user=user).filter(customer=customer)


def tasks_of(*, user, customer):
    return task_list(user=user).filter(customer=customer)


def customer_timeline_entries(*, user, customer):
    """TIMELINE_SOURCES entry: the customer's follow-ups and tasks, as timeline entries (two
    queries, plus one for attachments)."""
    entries = []
    for follow_up in follow_ups_of(user=user, customer=customer).order_by("-occurred_at", "-id")[:TIMELINE_FOLLOW_UPS]:
        entries.append(
            {
                "kind": "follow_up",
                "id": follow_up.pk,
                "at": follow_up.occurred_at,
                "title": follow_up.get_type_display(),
                "type": follow_up.type,
                "text": follow_up.content,
                "user_name": str(follow_up.created_by) if follow_up.created_by else "",
                "next_follow_up_at": follow_up.next_follow_up_at,
                "contact_name": follow_up.contact.name if follow_up.contact else "",
                "attachments": list(follow_up.attachments.all()),
                "checked_in": follow_up.latitude is not None,
            }
        )
    for task in tasks_of(user=user, customer=customer).order_by("-created_at", "-id")[:TIMELINE_TASKS]:
        entries.append(
            {
                "kind": "task",
                "id": task.pk,
                "at": task.created_at,
                "title": task.title,
                "text": task.description,
                "user_name": str(task.created_by) if task.created_by else "",
                "due_at": task.due_at,
                "status": task.status,
                "status_label": task.get_status_display(),
                "assignee_name": str(task.assignee),
            }
        )
    return entries


def unlinked_or_alive_customer():
    return Q(customer__isnull=True) | Q(customer__deleted_at__isnull=True)


def start_of_day(day):
    from datetime import datetime, time

    return timezone.make_aware(datetime.combine(day, time.min))


def week_start(day):
    return day - timedelta(days=day.weekday())
