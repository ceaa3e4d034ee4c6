"""One FilterSet per list, shared by the API and the pages: the deal list and board
(``OpportunityFilterSet``), and the reports (``ReportFilterSet``: period, owner, department)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from crm.api.filters import ScopedModelChoiceFilter, SyncFilterSet
from customers.models import Customer
from opportunities.models import Opportunity, Stage, StageGroup, StageKind
from staff.models import Department, User


def _department_subtree(queryset, name, value):
    """A department and the ones below it (materialised path prefix)."""
    if not value:
        return queryset
    return queryset.filter(department__path__startswith=value.path)


class OpportunityFilterSet(SyncFilterSet):
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label=_("搜索"), max_length=100)
    customer = ScopedModelChoiceFilter(model=Customer, label=_("客户"))
    group = django_filters.ModelChoiceFilter(
        queryset=StageGroup.objects.all(), field_name="stage__group", label=_("阶段组")
    )
    stage = django_filters.ModelMultipleChoiceFilter(queryset=Stage.objects.all(), distinct=False, label=_("阶段"))
    kind = django_filters.ChoiceFilter(choices=StageKind.choices, field_name="stage__kind", label=_("状态"))
    owner = django_filters.ModelMultipleChoiceFilter(queryset=User.objects.all(), distinct=False, label=_("负责人"))
    department = django_filters.ModelChoiceFilter(
        queryset=Department.objects.all(), method=_department_subtree, label=_("部门（含下级）")
    )
    expected_close = django_filters.DateFromToRangeFilter(field_name="expected_close_date", label=_("预计成交日期"))
    amount = django_filters.RangeFilter(field_name="amount", label=_("金额"))
    created = django_filters.DateFromToRangeFilter(field_name="created_at", label=_("创建日期"))

    class Meta:
        model = Opportunity
        fields = []


class ReportFilterSet(django_filters.FilterSet):
    """Filters of the funnel and forecast: ``period_after`` / ``period_before`` (the funnel: deals
    created in the period; the forecast: expected to close in it), owner, department (with the
    departments below it), stage group."""

    period = django_filters.DateFromToRangeFilter(method="filter_period", label=_("期间"))
    owner = django_filters.ModelMultipleChoiceFilter(queryset=User.objects.all(), distinct=False, label=_("负责人"))
    department = django_filters.ModelChoiceFilter(
        queryset=Department.objects.all(), method=_department_subtree, label=_("部门（含下级）")
    )
    group = django_filters.ModelChoiceFilter(
        queryset=StageGroup.objects.all(), method="filter_nothing", label=_("阶段组")
    )

    #: "created_at" for the funnel, "expected_close_date" for the forecast.
    period_field = "created_at"

    class Meta:
        model = Opportunity
        fields = []

    def __init__(self, *args, period_field=None, **kwargs):
        super().__init__(*args, **kwargs)
        if period_field:
            self.period_field = period_field

    def filter_period(self, queryset, name, value):
        if not value:
            return queryset
        # value.start / value.stop: local midnight and end of day (django-filter's DateRangeField).
        start, stop = value.start, value.stop
        if self.period_field != "created_at":  # a DateField compares dates
            start, stop = (start.date() if start else None), (stop.date() if stop else None)
        if start:
            queryset = queryset.filter(**{f"{self.period_field}__gte": start})
        if stop:
            queryset = queryset.filter(**{f"{self.period_field}__lte": stop})
        return queryset

    def filter_nothing(self, queryset, name, value):
        return queryset  # the group is chosen by the view, not filtered here
