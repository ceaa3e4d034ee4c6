"""One FilterSet per list, shared by the API and the web list page: every field, custom fields
(``cf_<key>`` exact, ``cf_<key>_min`` / ``cf_<key>_max`` for numbers and dates), tags any-of
(``tags``) / all-of (``tags_all``), date ranges, saved views (``view``) and the search box (``q``)."""

import datetime
from decimal import Decimal, InvalidOperation

import django_filters
from django.db.models import DecimalField, Exists, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from analytics.models import Lifecycle
from crm.api.filters import SyncFilterSet
from customers import selectors
from customers.custom_fields import definitions
from customers.models import (
    Contact,
    Customer,
    CustomerKind,
    CustomerLevel,
    CustomFieldTarget,
    CustomFieldType,
    DealStatus,
    Industry,
    Source,
    Tag,
)
from staff.fieldperms import hidden_fields
from staff.models import Department, User

RFM_CHOICES = [(str(score), str(score)) for score in range(6)]


class HiddenFieldFilterMixin:
    """For FilterSets over customers (the customer list, the pool list): a field hidden from the
    user cannot be filtered on — the rows that come back would reveal it — so such filters are
    ignored. ``reads(name, value)`` says which model fields (custom ones as ``cf.<key>``) a
    filter looks at; ``q`` is left to the search, which looks at names only when a searched
    field is hidden."""

    target = CustomFieldTarget.CUSTOMER

    def reads(self, name, value):
        return {name}

    def filter_queryset(self, queryset):
        user = getattr(self, "user", None) or getattr(self.request, "user", None)
        self.hidden = hidden_fields(user, self.target) if user else set()
        for name, value in list(self.form.cleaned_data.items()):
            if name != "q" and self.reads(name, value) & self.hidden:
                self.form.cleaned_data[name] = None
        return super().filter_queryset(queryset)


class CustomerFilterSet(HiddenFieldFilterMixin, SyncFilterSet):
    # distinct=False on the multiple-choice filters: a foreign key cannot duplicate rows, and a
    # DISTINCT over every column (JSON included) made a filtered page 300 ms at 500,000 customers.
    # Two characters at least: a one-character query would match a large share of all customers
    # and can only be answered by reading every row.
    q = django_filters.CharFilter(method="filter_q", label=_("搜索"), min_length=2, max_length=100)
    view = django_filters.ChoiceFilter(
        method="filter_view",
        choices=[(key, label) for key, (_fn, label) in selectors.BUILTIN_VIEWS.items()],
        label=_("视图"),
    )
    name = django_filters.CharFilter(lookup_expr="icontains", label=_("客户名称"))
    kind = django_filters.ChoiceFilter(choices=CustomerKind.choices, label=_("类型"))
    credit_code = django_filters.CharFilter(lookup_expr="iexact", label=_("统一社会信用代码"))
    mobile = django_filters.CharFilter(lookup_expr="contains", label=_("手机"))
    phone = django_filters.CharFilter(lookup_expr="contains", label=_("电话"))
    email = django_filters.CharFilter(lookup_expr="icontains", label=_("邮箱"))
    level = django_filters.ModelMultipleChoiceFilter(
        queryset=CustomerLevel.objects.all(), distinct=False, label=_("等级")
    )
    source = django_filters.ModelMultipleChoiceFilter(queryset=Source.objects.all(), distinct=False, label=_("来源"))
    industry = django_filters.ModelMultipleChoiceFilter(
        queryset=Industry.objects.all(), distinct=False, label=_("行业")
    )
    tags = django_filters.ModelMultipleChoiceFilter(
        queryset=Tag.objects.all(), method="filter_tags_any", label=_("标签（任一）")
    )
    tags_all = django_filters.ModelMultipleChoiceFilter(
        queryset=Tag.objects.all(), field_name="tags", method="filter_tags_all", label=_("标签（全部）")
    )
    owner = django_filters.ModelMultipleChoiceFilter(queryset=User.objects.all(), distinct=False, label=_("负责人"))
    department = django_filters.ModelMultipleChoiceFilter(
        queryset=Department.objects.all(), distinct=False, label=_("部门")
    )
    province = django_filters.CharFilter(label=_("省份"))
    city = django_filters.CharFilter(label=_("城市"))
    district = django_filters.CharFilter(label=_("区县"))
    address = django_filters.CharFilter(lookup_expr="icontains", label=_("详细地址"))
    website = django_filters.CharFilter(lookup_expr="icontains", label=_("网址"))
    remark = django_filters.CharFilter(lookup_expr="icontains", label=_("备注"))
    deal_status = django_filters.ChoiceFilter(choices=DealStatus.choices, label=_("成交状态"))
    created = django_filters.DateFromToRangeFilter(field_name="created_at", label=_("创建日期"))
    last_follow_up = django_filters.DateFromToRangeFilter(field_name="last_follow_up_at", label=_("最近跟进"))
    next_follow_up = django_filters.DateFromToRangeFilter(field_name="next_follow_up_at", label=_("下次联系"))
    updated = django_filters.DateFromToRangeFilter(field_name="updated_at", label=_("更新日期"))
    no_follow_up_days = django_filters.NumberFilter(method="filter_no_follow_up_days", label=_("未跟进天数 ≥"))
    # The customer profile (客户画像, analytics app): one join on its primary key, indexed by
    # lifecycle and by churn risk. Customers without a profile yet match none of these.
    lifecycle = django_filters.MultipleChoiceFilter(
        field_name="profile__lifecycle", choices=Lifecycle.choices, distinct=False, label=_("生命周期")
    )
    churn_risk_gt = django_filters.NumberFilter(
        field_name="profile__churn_risk", lookup_expr="gt", min_value=0, max_value=1, label=_("流失风险 >")
    )
    churn_risk_lte = django_filters.NumberFilter(
        field_name="profile__churn_risk", lookup_expr="lte", min_value=0, max_value=1, label=_("流失风险 ≤")
    )
    recency = django_filters.MultipleChoiceFilter(
        field_name="profile__recency", choices=RFM_CHOICES, distinct=False, label=_("R 最近购买")
    )
    frequency = django_filters.MultipleChoiceFilter(
        field_name="profile__frequency", choices=RFM_CHOICES, distinct=False, label=_("F 购买频率")
    )
    monetary = django_filters.MultipleChoiceFilter(
        field_name="profile__monetary", choices=RFM_CHOICES, distinct=False, label=_("M 购买金额")
    )
    predicted_value_min = django_filters.NumberFilter(
        field_name="profile__predicted_value", lookup_expr="gte", min_value=0, label=_("预测12个月价值 ≥")
    )
    profile_tag = django_filters.CharFilter(method="filter_profile_tag", max_length=30, label=_("自动标签"))

    class Meta:
        model = Customer
        fields = []

    target = CustomFieldTarget.CUSTOMER

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        request = kwargs.get("request")
        self.user = user or getattr(request, "user", None)
        self.custom_definitions = definitions(self.target)
        for definition in self.custom_definitions:
            self._add_custom_filters(definition)

    def _add_custom_filters(self, definition):
        name = f"cf_{definition.key}"
        label = definition.label
        if definition.type in (CustomFieldType.NUMBER, CustomFieldType.DATE):
            filter_class = (
                django_filters.NumberFilter if definition.type == CustomFieldType.NUMBER else django_filters.DateFilter
            )
            for suffix, op in (("min", "gte"), ("max", "lte")):
                self.filters[f"{name}_{suffix}"] = filter_class(
                    method=self._custom_range(definition, op), label=f"{label} {suffix}"
                )
        elif definition.type == CustomFieldType.BOOLEAN:
            self.filters[name] = django_filters.BooleanFilter(method=self._custom_exact(definition), label=label)
        else:
            self.filters[name] = django_filters.CharFilter(method=self._custom_exact(definition), label=label)
        for filter_ in self.filters.values():
            filter_.parent = self

    def _custom_exact(self, definition):
        def method(queryset, name, value):
            if value in (None, ""):
                return queryset
            if definition.type == CustomFieldType.MULTI_CHOICE:
                return queryset.filter(custom_fields__contains={definition.key: [value]})
            if definition.type == CustomFieldType.TEXT:
                return queryset.filter(**{f"custom_fields__{definition.key}__icontains": value})
            return queryset.filter(custom_fields__contains={definition.key: value})

        return method

    def _custom_range(self, definition, op):
        def method(queryset, name, value):
            if value in (None, ""):
                return queryset
            text = KeyTextTransform(definition.key, "custom_fields")
            if definition.type == CustomFieldType.NUMBER:
                try:
                    value = Decimal(value)
                except InvalidOperation:
                    return queryset.none()
                expression = Cast(text, DecimalField(max_digits=30, decimal_places=6))
                return queryset.alias(**{f"_{name}": expression}).filter(
                    Q(**{"custom_fields__has_key": definition.key}), **{f"_{name}__{op}": value}
                )
            # ISO dates compare correctly as text.
            iso = value.isoformat() if isinstance(value, datetime.date) else str(value)
            return queryset.alias(**{f"_{name}": text}).filter(**{f"_{name}__{op}": iso})

        return method

    def filter_q(self, queryset, name, value):
        return selectors.customer_search_for(self.user, queryset, value)

    def filter_view(self, queryset, name, value):
        return selectors.apply_view(queryset, self.user, value)

    def filter_tags_any(self, queryset, name, value):
        if not value:
            return queryset
        through = Customer.tags.through
        return queryset.filter(
            Exists(through.objects.filter(customer_id=OuterRef("pk"), tag_id__in=[tag.pk for tag in value]))
        )

    def filter_tags_all(self, queryset, name, value):
        through = Customer.tags.through
        for tag in value or []:
            queryset = queryset.filter(Exists(through.objects.filter(customer_id=OuterRef("pk"), tag_id=tag.pk)))
        return queryset

    def filter_profile_tag(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(profile__tags__contains=[value])

    def filter_no_follow_up_days(self, queryset, name, value):
        if value is None:
            return queryset
        return selectors.not_followed_up_for(queryset, int(value))

    # The fields each filter reads, where the filter's name is not the field's.
    READS = {
        "created": {"created_at"},
        "updated": {"updated_at"},
        "last_follow_up": {"last_follow_up_at"},
        "next_follow_up": {"next_follow_up_at"},
        "no_follow_up_days": {"last_follow_up_at"},
        "tags_all": {"tags"},
    }
    VIEW_READS = {
        "mine": {"owner"},
        "subordinates": {"owner"},
        "today": {"next_follow_up_at"},
        "stale30": {"last_follow_up_at"},
        "key": {"level"},
    }

    def reads(self, name, value):
        """The model fields (custom ones as ``cf.<key>``) filter ``name`` looks at."""
        if name == "view":
            return self.VIEW_READS.get(value, set())
        if name.startswith("cf_"):
            key = name[3:].removesuffix("_min").removesuffix("_max")
            if key not in {definition.key for definition in self.custom_definitions}:
                key = name[3:]
            return {f"cf.{key}"}
        return self.READS.get(name, {name})


class ContactFilterSet(SyncFilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id", label=_("客户"))
    name = django_filters.CharFilter(lookup_expr="icontains", label=_("姓名"))
    is_primary = django_filters.BooleanFilter(label=_("主要联系人"))

    class Meta:
        model = Contact
        fields = []
