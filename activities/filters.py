"""One FilterSet per list, for the API and the pages alike. ``today`` and ``overdue`` are in the
company's time zone (Asia/Shanghai)."""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activities import selectors
from activities.models import FollowUp, FollowUpType, Task, TaskPriority, TaskStatus
from crm.api.filters import IsoDateTimeFilter, SyncFilterSet


class FollowUpFilterSet(SyncFilterSet):
    # Plain ids: an out-of-scope customer simply yields nothing, exactly like a missing one.
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("客户"))
    contact = django_filters.NumberFilter(field_name="contact_id", label=_("联系人"))
    created_by = django_filters.NumberFilter(field_name="created_by_id", label=_("跟进人"))
    type = django_filters.MultipleChoiceFilter(choices=FollowUpType.choices, label=_("跟进方式"))
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    mine = django_filters.BooleanFilter(method="filter_mine", label=_("我的跟进"))

    class Meta:
        model = FollowUp
        fields = []

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value is None or user is None:
            return queryset
        return queryset.filter(created_by_id=user.pk) if value else queryset.exclude(created_by_id=user.pk)


class TaskFilterSet(SyncFilterSet):
    mine = django_filters.BooleanFilter(method="filter_mine", label=_("分配给我"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("已逾期"))
    today = django_filters.BooleanFilter(method="filter_today", label=_("今天到期"))
    status = django_filters.MultipleChoiceFilter(choices=TaskStatus.choices, label=_("状态"))
    priority = django_filters.MultipleChoiceFilter(choices=TaskPriority.choices, label=_("优先级"))
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("客户"))
    assignee = django_filters.NumberFilter(field_name="assignee_id", label=_("执行人"))
    due_after = IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = Task
        fields = []

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value is None or user is None:
            return queryset
        return queryset.filter(assignee_id=user.pk) if value else queryset.exclude(assignee_id=user.pk)

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        overdue = selectors.tasks_overdue(queryset.model.objects.all(), timezone.now()).values("pk")
        return queryset.filter(pk__in=overdue) if value else queryset.exclude(pk__in=overdue)

    def filter_today(self, queryset, name, value):
        if value is None:
            return queryset
        today = selectors.tasks_today(queryset.model.objects.all()).values("pk")
        return queryset.filter(pk__in=today) if value else queryset.exclude(pk__in=today)
