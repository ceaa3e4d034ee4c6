"""The 日报 / 周报 / 月报 page: a period picker (day / week / month and a date), a subject picker
(the viewer, the people and departments their scope allows), the figures beside the previous
period, and the viewer's e-mail subscriptions."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from analytics import summary_services
from analytics.models import SummaryFrequency, SummarySubscription
from analytics.reports.base import PERCENT
from analytics.reports.periods import DAY, unit_shift
from analytics.summaries import (
    GRANULARITIES,
    GRANULARITY_CHOICES,
    period_label,
    shown,
    subject_from_key,
    summary_departments,
    summary_figures,
    summary_people,
    summary_period,
    summary_subject_for,
)
from crm.errors import DomainError
from staff.models import Department


class SummaryParams(forms.Form):
    period = forms.ChoiceField(label=gettext_lazy("报告"), choices=GRANULARITY_CHOICES, required=False)
    date = forms.DateField(label=gettext_lazy("日期"), required=False)
    subject = forms.CharField(label=gettext_lazy("对象"), required=False, max_length=40)


class SubscriptionForm(forms.Form):
    frequency = forms.ChoiceField(label=gettext_lazy("频率"), choices=SummaryFrequency.choices)
    subject = forms.CharField(label=gettext_lazy("对象"), max_length=40)


def _back(request):
    """The summary page with the query it was posted from (only our own parameters)."""
    query = QueryDict(request.POST.get("query", ""))
    kept = QueryDict(mutable=True)
    for name in ("period", "date", "subject"):
        if query.get(name):
            kept[name] = query[name]
    url = reverse("analytics:summary")
    return redirect(f"{url}?{kept.urlencode()}" if kept else url)


@login_required
@require_GET
def summary_page(request):
    user = request.user
    params = SummaryParams(request.GET)
    errors = {}
    if params.is_valid():
        cleaned = params.cleaned_data
    else:
        errors = {name: [str(message) for message in messages_] for name, messages_ in params.errors.items()}
        cleaned = {}
    granularity = cleaned.get("period") or DAY
    today = timezone.localdate()
    day = cleaned.get("date") or today
    subject_key = cleaned.get("subject") or request.GET.get("subject", "")
    subject = subject_from_key(viewer=user, key=subject_key) if subject_key else summary_subject_for(viewer=user)
    period = summary_period(granularity, day)
    summary = summary_figures(viewer=user, subject=subject, period=period)
    next_start = unit_shift(period.start, granularity, 1)
    departments = list(summary_departments(viewer=user))
    subscriptions = (
        SummarySubscription.objects.filter(user=user).select_related("department").order_by("frequency", "id")
    )
    context = {
        "active_nav": "reports",
        "summary": summary,
        "subject": subject,
        "period": period,
        "granularity": granularity,
        "kind": GRANULARITIES[granularity],
        "label": period_label(period),
        "granularity_choices": GRANULARITY_CHOICES,
        "day": day,
        "previous_day": summary.previous.start,
        "next_day": next_start if next_start <= today else None,
        "today": today,
        "people": summary_people(viewer=user),
        "departments": departments,
        "lines": [
            {
                "line": line,
                "current": shown(line.current, line.kind),
                "previous": shown(line.previous, line.kind),
                "change": shown(line.change, PERCENT),
                "trend": (line.change > 0) - (line.change < 0) if line.change is not None else 0,
            }
            for line in summary.lines
        ],
        "errors": errors,
        "subscriptions": subscriptions,
        "frequency_choices": SummaryFrequency.choices,
        "query": request.GET.urlencode(),
    }
    return render(request, "analytics/summaries/summary.html", context, status=400 if errors else 200)


@login_required
@require_POST
def subscription_create(request):
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择报告频率和对象。"))
        return _back(request)
    key = form.cleaned_data["subject"]
    department = None
    if key != "self":
        kind, _sep, pk = key.partition(":")
        if kind != "department":
            messages.error(request, _("请选择报告频率和对象。"))
            return _back(request)
        try:
            department = summary_departments(viewer=request.user).get(pk=int(pk))
        except (Department.DoesNotExist, ValueError, TypeError):
            raise Http404 from None  # missing and out of scope alike
    try:
        summary_services.summary_subscribe(
            user=request.user, frequency=form.cleaned_data["frequency"], department=department
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("订阅成功，报告将在每个周期结束后的早上 8 点发到你的邮箱。"))
        if not request.user.email:
            messages.warning(request, _("你的账号没有填写邮箱，暂时收不到报告邮件。"))
    return _back(request)


@login_required
@require_POST
def subscription_delete(request, pk):
    summary_services.summary_unsubscribe(user=request.user, subscription_id=pk)
    messages.success(request, _("已取消订阅。"))
    return _back(request)
