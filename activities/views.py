"""Pages: the quick follow-up on the customer's 360 page, 待办 (today / overdue / upcoming), the
week and month calendar, and scoped attachment downloads. Reads from activities.selectors,
writes through activities.services."""

import calendar as calendar_module
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from activities import selectors, services
from activities.api.views import attachment_response
from activities.forms import QuickFollowUpForm, TaskForm
from crm.errors import DomainError
from customers.selectors import customer_get_for_user


def _error_text(error):
    texts = [str(error.message)]
    for value in error.fields.values():
        texts.extend(str(message) for message in value)
    return " ".join(dict.fromkeys(texts))


@login_required
@permission_required("activities.add_followup", raise_exception=True)
@require_POST
def follow_up_create(request, customer_pk):
    customer = customer_get_for_user(user=request.user, pk=customer_pk)
    back = reverse("customers:detail", args=[customer.pk]) + "#timeline"
    form = QuickFollowUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    next_time = data.get("next_follow_up_at")
    try:
        services.follow_up_create(
            user=request.user,
            customer=customer,
            type=data["type"],
            content=data.get("content", ""),
            next_follow_up_at=next_time,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            files=request.FILES.getlist("attachments"),
            create_task=bool(data.get("create_task") and next_time),
        )
    except DomainError as error:
        if error.status == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, _error_text(error))
        return redirect(back)
    messages.success(request, _("已记录跟进"))
    return redirect(back)


@login_required
@permission_required("activities.view_followup", raise_exception=True)
@require_GET
def attachment_download(request, pk):
    return attachment_response(selectors.attachment_get_for_user(user=request.user, pk=pk))


@login_required
@permission_required("activities.view_task", raise_exception=True)
def todo(request):
    """待办: my open tasks, overdue / today / upcoming, and a quick new-task form."""
    form = TaskForm(initial={"due_at": timezone.localtime().replace(minute=0, second=0) + timedelta(hours=1)})
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("activities.add_task"):
            raise PermissionDenied
        form = TaskForm(request.POST)
        if form.is_valid():
            try:
                services.task_create(user=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(None, _error_text(error))
            else:
                messages.success(request, _("已添加待办"))
                return redirect("activities:todo")
        status = 400
    board = selectors.task_board(user=request.user)
    sections = [
        ("overdue", _("已逾期"), board["overdue"]),
        ("today", _("今天"), board["today"]),
        ("upcoming", _("即将到期"), board["upcoming"]),
    ]
    context = {"active_nav": "tasks", "sections": sections, "form": form, "now": timezone.now()}
    return render(request, "activities/todo.html", context, status=status)


@login_required
@permission_required("activities.change_task", raise_exception=True)
@require_POST
def task_complete(request, pk):
    task = selectors.task_get_for_user(user=request.user, pk=pk)
    try:
        services.task_complete(user=request.user, task=task)
    except DomainError as error:
        if error.status == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("已完成：%(title)s") % {"title": task.title})
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/") else "activities:todo")


def _parse_day(value):
    try:
        return date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


@login_required
@permission_required("activities.view_task", raise_exception=True)
@require_GET
def task_calendar(request):
    """日历: my tasks (by due time) and my follow-ups, a week or a month at a time."""
    view = "month" if request.GET.get("view") == "month" else "week"
    day = _parse_day(request.GET.get("date"))
    if view == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
        previous, following = first - timedelta(days=7), last
    else:
        month_start = day.replace(day=1)
        first = month_start - timedelta(days=month_start.weekday())
        days_in_month = calendar_module.monthrange(day.year, day.month)[1]
        month_end = month_start + timedelta(days=days_in_month)
        last = month_end + timedelta(days=(7 - month_end.weekday()) % 7)
        previous = (month_start - timedelta(days=1)).replace(day=1)
        following = month_end
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    end = timezone.make_aware(datetime.combine(last, time.min), tz)
    tasks, follow_ups = selectors.calendar_entries(user=request.user, start=start, end=end)
    by_day = {}
    for task in tasks:
        by_day.setdefault(timezone.localdate(task.due_at), []).append({"kind": "task", "at": task.due_at, "item": task})
    for follow_up in follow_ups:
        by_day.setdefault(timezone.localdate(follow_up.occurred_at), []).append(
            {"kind": "follow_up", "at": follow_up.occurred_at, "item": follow_up}
        )
    days = []
    current = first
    while current < last:
        entries = sorted(by_day.get(current, []), key=lambda entry: entry["at"])
        days.append({"date": current, "entries": entries, "in_month": view == "week" or current.month == day.month})
        current += timedelta(days=1)
    weeks = [days[index : index + 7] for index in range(0, len(days), 7)]
    context = {
        "active_nav": "tasks",
        "view": view,
        "day": day,
        "weeks": weeks,
        "today": timezone.localdate(),
        "previous": previous,
        "following": following,
        "weekdays": [_("周一"), _("周二"), _("周三"), _("周四"), _("周五"), _("周六"), _("周日")],
    }
    return render(request, "activities/calendar.html", context)
