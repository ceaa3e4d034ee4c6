"""The pool list's filters (API and page alike)."""

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from crm.api.filters import SyncFilterSet
from customers.filters import HiddenFieldFilterMixin
from customers.models import Customer, CustomerLevel, Industry, Source
from customers.selectors import customer_search
from pool.models import Pool
from pool.selectors import in_pools_q, pools_for_user


def _my_pools(request):
    user = getattr(request, "user", None)
    return pools_for_user(user) if user is not None else Pool.objects.none()


@extend_schema_field(OpenApiTypes.INT)
class PoolChoiceFilter(django_filters.ModelChoiceFilter):
    """A pool's id (customers are in a pool by rule, not by a column the schema could read)."""


class PoolCustomerFilterSet(HiddenFieldFilterMixin, SyncFilterSet):
    pool = PoolChoiceFilter(queryset=_my_pools, method="filter_pool", label=_("公海"))
    level = django_filters.ModelMultipleChoiceFilter(queryset=CustomerLevel.objects.all(), label=_("等级"))
    source = django_filters.ModelMultipleChoiceFilter(queryset=Source.objects.all(), label=_("来源"))
    industry = django_filters.ModelMultipleChoiceFilter(queryset=Industry.objects.all(), label=_("行业"))
    province = django_filters.CharFilter(label=_("省份"))
    q = django_filters.CharFilter(method="filter_q", label=_("搜索"))

    class Meta:
        model = Customer
        fields = ["pool", "level", "source", "industry", "province", "q"]

    def filter_pool(self, queryset, name, value):
        return queryset.filter(in_pools_q({value.pk})) if value else queryset

    def filter_q(self, queryset, name, value):
        # Names only: the search column holds phone numbers and e-mails the pool list hides.
        return customer_search(queryset, value, names_only=True)
