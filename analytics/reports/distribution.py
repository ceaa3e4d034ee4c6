"""客户分布: the customers the viewer may see, counted by one dimension at a time — level, industry,
province, city (with its province), source, lifecycle (from the customer profile) or owner.

A snapshot of today's customers (``uses_period = False``): every live customer in the viewer's
scope (``Customer.objects.visible_to`` — pool customers are nobody's and are not counted),
narrowed by the department (with the departments below it) and owner filters on the customer's
own department and owner. One GROUP BY per run. Each count links to the customer list filtered the
same way (the list's level / industry / source / province / city / lifecycle / owner / department
filters), so the list shows that many rows; a row of customers with the field left blank (or
without a profile yet) has no list filter and no link.

``customer_list_url`` builds those links for the other customer-side reports too.
"""

from urllib.parse import urlencode

from django import forms
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from analytics.models import Lifecycle
from analytics.reports.base import INT, PERCENT, TEXT, Column, Figure, Report, Result, Table, narrow, ratio
from crm.regions import PLACEHOLDER_NAMES, region_name
from customers.models import Customer, DealStatus
from staff.models import Department

LEVEL, INDUSTRY, PROVINCE, CITY, SOURCE, LIFECYCLE, OWNER = (
    "level",
    "industry",
    "province",
    "city",
    "source",
    "lifecycle",
    "owner",
)
BY_CHOICES = [
    (LEVEL, _("客户等级")),
    (INDUSTRY, _("行业")),
    (PROVINCE, _("省份")),
    (CITY, _("城市")),
    (SOURCE, _("来源")),
    (LIFECYCLE, _("生命周期")),
    (OWNER, _("负责人")),
]
# The dimensions drawn as a pie; the others (many values) as bars.
PIE = {LEVEL, INDUSTRY, SOURCE, LIFECYCLE}
BLANK = _("未填写")


def customer_list_url(params, *, department_ids=None, **filters):
    """The customer list (客户列表) filtered by the report's department / owner filters and
    ``filters`` (the list's own query parameters). ``department_ids``: the filter department's
    subtree (``report_department_ids``), since the list's department filter is exact. An owner in
    ``filters`` replaces the report's owner filter (a row of one owner is inside it)."""
    query = []
    if department_ids:
        query += [("department", pk) for pk in department_ids]
    if "owner" not in filters:
        query += [("owner", user.pk) for user in params.owners]
    for key, value in filters.items():
        values = value if isinstance(value, list | tuple) else [value]
        query += [(key, item) for item in values]
    return f"{reverse('customers:list')}?{urlencode(query)}"


def report_department_ids(params):
    """The ids of the filter department and the ones below it (what ``narrow`` keeps), or []."""
    department = params.department
    if department is None:
        return []
    if not department.path:
        return [department.pk]
    return list(Department.objects.filter(path__startswith=department.path).order_by("pk").values_list("pk", flat=True))


def visible_customers(*, user, params):
    """The live customers the viewer may see, narrowed by the report's department / owner filters."""
    return narrow(Customer.objects.visible_to(user), params)


# Per dimension: the columns grouped by (the first is the key), and how a row is named and linked.
GROUPS = {
    LEVEL: ("level_id", "level__name", "level__priority", "level__code"),
    INDUSTRY: ("industry_id", "industry__name", "industry__order"),
    PROVINCE: ("province",),
    CITY: ("city", "province"),
    SOURCE: ("source_id", "source__name", "source__order"),
    LIFECYCLE: ("profile__lifecycle",),
    OWNER: ("owner_id", "owner__display_name", "owner__username"),
}
LIFECYCLE_ORDER = {value: index for index, value in enumerate(Lifecycle.values)}


def distribution_counts(*, user, params, by):
    """[{group columns…, customers, won}] — one GROUP BY over the visible customers."""
    return list(
        visible_customers(user=user, params=params)
        .order_by()
        .values(*GROUPS[by])
        .annotate(customers=Count("pk"), won=Count("pk", filter=Q(deal_status=DealStatus.WON)))
    )


def _row(by, group):
    """(sort key, name, province name, list filters or None) of one group."""
    if by == LEVEL:
        key = group["level_id"]
        name = group["level__name"] and f"{group['level__code']} {group['level__name']}"
        return (
            (key is None, group["level__priority"] or 0, group["level__code"] or ""),
            name,
            "",
            key and {"level": key},
        )
    if by in (INDUSTRY, SOURCE):
        key = group[f"{by}_id"]
        return (
            (key is None, group[f"{by}__order"] or 0, group[f"{by}__name"] or ""),
            group[f"{by}__name"],
            "",
            (key and {by: key}),
        )
    if by == PROVINCE:
        code = group["province"]
        return (not code, code), code and (region_name(code) or code), "", code and {"province": code}
    if by == CITY:
        code, province = group["city"], group["province"]
        filters = code and {"province": province, "city": code} if province else None
        name = code and (region_name(code) or code)
        if name in PLACEHOLDER_NAMES:  # 北京市 → 市辖区: the municipality's own name reads better
            name = region_name(province) or name
        return (
            (not code, province, code),
            name,
            province and (region_name(province) or province),
            filters,
        )
    if by == LIFECYCLE:
        stage = group["profile__lifecycle"]
        name = Lifecycle(stage).label if stage else _("未计算画像")
        return (stage is None, LIFECYCLE_ORDER.get(stage, 99)), name, "", stage and {"lifecycle": stage}
    owner = group["owner_id"]
    return (
        (group["owner__display_name"] or group["owner__username"] or "", owner),
        group["owner__display_name"] or group["owner__username"],
        "",
        {"owner": owner},
    )


class CustomerDistribution(Report):
    key = "distribution"
    title = _("客户分布")
    description = _("当前可见客户按等级、行业、地区、来源、生命周期或负责人的分布（快照，不按时间段筛选）。")
    permission = "customers.view_customer"
    uses_period = False

    def extra_fields(self):
        return {
            "by": forms.ChoiceField(
                label=_("分布维度"),
                choices=BY_CHOICES,
                required=False,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        }

    def run(self, *, user, params):
        by = params.cleaned_data.get("by") or LEVEL
        groups = distribution_counts(user=user, params=params, by=by)
        department_ids = report_department_ids(params)
        total = sum(group["customers"] for group in groups)
        rows = []
        for group in groups:
            order, name, province, filters = _row(by, group)
            row = {
                "_order": order,
                "name": name or BLANK,
                "customers": group["customers"],
                "share": ratio(group["customers"], total),
                "won": group["won"],
            }
            if by == CITY:
                row["province"] = province or BLANK
            if filters:
                row["_links"] = {"customers": customer_list_url(params, department_ids=department_ids, **filters)}
            rows.append(row)
        rows.sort(key=lambda row: row.pop("_order"))

        label = dict(BY_CHOICES)[by]
        columns = [Column("name", label, TEXT)]
        if by == CITY:
            columns.insert(0, Column("province", _("省份"), TEXT))
        columns += [
            Column("customers", _("客户数"), INT),
            Column("share", _("占比"), PERCENT),
            Column("won", _("已成交客户数"), INT),
        ]
        summary = [
            Figure("customers", _("客户总数"), total, INT),
            Figure("won", _("已成交客户数"), sum(group["won"] for group in groups), INT),
            Figure("groups", _("分组数"), len(rows), INT),
        ]
        return Result(table=Table(columns, rows), summary=summary, chart=self.chart(by, rows))

    def chart(self, by, rows):
        if not rows:
            return {}
        names = [f"{row['province']} {row['name']}" if by == CITY else str(row["name"]) for row in rows]
        if by in PIE:
            return {
                "tooltip": {"trigger": "item"},
                "legend": {"type": "scroll", "bottom": 0},
                "series": [
                    {
                        "name": str(_("客户数")),
                        "type": "pie",
                        "radius": ["35%", "65%"],
                        "data": [
                            {"name": name, "value": row["customers"]} for name, row in zip(names, rows, strict=True)
                        ],
                    }
                ],
            }
        return {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 8, "right": 8, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": names, "axisLabel": {"rotate": 45 if len(rows) > 8 else 0}},
            "yAxis": {"type": "value"},
            "dataZoom": [{"type": "inside"}] if len(rows) > 20 else [],
            "series": [{"name": str(_("客户数")), "type": "bar", "data": [row["customers"] for row in rows]}],
        }


CUSTOMER_DISTRIBUTION = CustomerDistribution()
