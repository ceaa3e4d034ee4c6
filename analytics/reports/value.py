"""客户价值: the RFM segment grid, the distribution of predicted 12-month value and CLV, and the top
customers by value — a snapshot over the customer profiles (客户画像) of the customers the viewer
may see (``CustomerProfile.objects.visible_to``: the customer's scope), narrowed by the department
(with the departments below it) and owner filters on the customer's department and owner. No
period (``uses_period = False``): a profile holds the figures as of its last recompute. Customers
whose profile has not been computed yet are not counted.

RFM segments (the usual eight-way split of RFM analysis): each of the profile's R, F and M scores
(1–5) is high at ``HIGH_SCORE`` (3) or more; the three high/low answers name the segment
(R high, F high, M high = 重要价值客户 …). A customer without purchases (0/0/0) is 未购买客户. Each
segment's count links to the customer list filtered by the same R / F / M scores.

Value buckets: ``VALUE_BUCKETS`` (yuan, upper bound inclusive), the same for predicted value and
CLV. Top customers: ``TOP`` by the chosen value (CLV by default), ties by customer id.
"""

from decimal import Decimal

from django import forms
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from analytics.models import CustomerProfile, Lifecycle
from analytics.reports.base import (
    INT,
    MONEY,
    PERCENT,
    TEXT,
    Column,
    Figure,
    Report,
    Result,
    Table,
    money,
    narrow,
    ratio,
)
from analytics.reports.distribution import customer_list_url, report_department_ids

HIGH_SCORE = 3
TOP = 20
SCORES = range(1, 6)

# (code, name, R high, F high, M high) — the order of the table.
SEGMENTS = [
    ("important_value", _("重要价值客户"), True, True, True),
    ("important_develop", _("重要发展客户"), True, False, True),
    ("important_keep", _("重要保持客户"), False, True, True),
    ("important_retain", _("重要挽留客户"), False, False, True),
    ("general_value", _("一般价值客户"), True, True, False),
    ("general_develop", _("一般发展客户"), True, False, False),
    ("general_keep", _("一般保持客户"), False, True, False),
    ("general_retain", _("一般挽留客户"), False, False, False),
]
NO_PURCHASE = ("no_purchase", _("未购买客户"))
SEGMENT_BY_FLAGS = {(r, f, m): (code, name) for code, name, r, f, m in SEGMENTS}

# Upper bounds in yuan (inclusive); a last bucket above the last bound. 0 is its own bucket.
VALUE_BOUNDS = [Decimal(bound) for bound in ("10000", "50000", "100000", "500000", "1000000")]

RANK_CHOICES = [
    ("clv", _("客户终身价值")),
    ("predicted_value", _("预测12个月价值")),
    ("purchase_total", _("购买总额")),
]


def visible_profiles(*, user, params):
    """The profiles of the customers the viewer may see, narrowed by the report's filters."""
    return narrow(CustomerProfile.objects.visible_to(user), params)


def rfm_cells(*, user, params):
    """[{recency, frequency, monetary, customers, purchase_total, predicted_value, clv}] — one
    GROUP BY over the score triples (at most 6³ rows)."""
    return list(
        visible_profiles(user=user, params=params)
        .order_by()
        .values("recency", "frequency", "monetary")
        .annotate(
            customers=Count("pk"),
            purchase_total=Sum("purchase_total"),
            predicted_value=Sum("predicted_value"),
            clv=Sum("clv"),
        )
    )


def value_buckets():
    """[(key, label, Q on a field name → condition)] of the value distribution."""
    buckets = [("0", _("0 元"), lambda field: Q(**{f"{field}__lte": 0}))]
    lower = Decimal(0)
    for bound in VALUE_BOUNDS:
        buckets.append(
            (
                f"le_{bound}",
                _("%(low)s–%(high)s 元") % {"low": f"{lower:,.0f}", "high": f"{bound:,.0f}"},
                lambda field, low=lower, high=bound: Q(**{f"{field}__gt": low, f"{field}__lte": high}),
            )
        )
        lower = bound
    buckets.append(
        (
            "above",
            _("%(low)s 元以上") % {"low": f"{lower:,.0f}"},
            lambda field, low=lower: Q(**{f"{field}__gt": low}),
        )
    )
    return buckets


def value_distribution(*, user, params):
    """{bucket key: {predicted: n, predicted_sum, clv: n, clv_sum}} — one aggregate of FILTERed counts."""
    measures = {}
    for key, _label, condition in value_buckets():
        for field in ("predicted_value", "clv"):
            measures[f"{field}__{key}__n"] = Count("pk", filter=condition(field))
            measures[f"{field}__{key}__sum"] = Sum(field, filter=condition(field))
    return visible_profiles(user=user, params=params).aggregate(**measures)


def top_customers(*, user, params, rank_by):
    """The TOP profiles by ``rank_by`` (descending; ties by customer id), with customer and owner."""
    return list(
        visible_profiles(user=user, params=params)
        .order_by(f"-{rank_by}", "customer_id")
        .values(
            "customer_id",
            "customer__name",
            "customer__owner__display_name",
            "customer__owner__username",
            "lifecycle",
            "recency",
            "frequency",
            "monetary",
            "purchase_count",
            "purchase_total",
            "predicted_value",
            "clv",
        )[:TOP]
    )


def segment_of(recency, frequency, monetary):
    if not (recency or frequency or monetary):
        return NO_PURCHASE
    return SEGMENT_BY_FLAGS[(recency >= HIGH_SCORE, frequency >= HIGH_SCORE, monetary >= HIGH_SCORE)]


def _scores(high):
    return [score for score in SCORES if (score >= HIGH_SCORE) == high]


class CustomerValue(Report):
    key = "customer_value"
    title = _("客户价值")
    description = _("RFM 客户分群、预测价值与客户终身价值分布、高价值客户（快照，不按时间段筛选）。")
    permission = "customers.view_customer"
    uses_period = False

    def extra_fields(self):
        return {
            "rank_by": forms.ChoiceField(
                label=_("排行依据"),
                choices=RANK_CHOICES,
                required=False,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        }

    def run(self, *, user, params):
        rank_by = params.cleaned_data.get("rank_by") or "clv"
        cells = rfm_cells(user=user, params=params)
        department_ids = report_department_ids(params)

        zero = {"customers": 0, "purchase_total": Decimal(0), "predicted_value": Decimal(0), "clv": Decimal(0)}
        segments = {code: dict(zero) for code, *_rest in [*SEGMENTS, NO_PURCHASE]}
        grid = {(r, f): 0 for r in SCORES for f in SCORES}
        for cell in cells:
            code, _name = segment_of(cell["recency"], cell["frequency"], cell["monetary"])
            for key in zero:
                segments[code][key] += cell[key] or 0
            if cell["recency"] and cell["frequency"]:
                grid[(cell["recency"], cell["frequency"])] += cell["customers"]
        total = sum(segment["customers"] for segment in segments.values())

        rows = []
        for code, name, *flags in [*SEGMENTS, (*NO_PURCHASE, None, None, None)]:
            figures = segments[code]
            if flags[0] is None:
                scores = {"recency": 0, "frequency": 0, "monetary": 0}
                rule = "0 / 0 / 0"
            else:
                scores = {
                    key: _scores(high) for key, high in zip(("recency", "frequency", "monetary"), flags, strict=True)
                }
                rule = " / ".join(str(_("高") if high else _("低")) for high in flags)
            rows.append(
                {
                    "segment": name,
                    "rule": rule,
                    "customers": figures["customers"],
                    "share": ratio(figures["customers"], total),
                    "purchase_total": money(figures["purchase_total"]),
                    "average": money(figures["purchase_total"] / figures["customers"])
                    if figures["customers"]
                    else None,
                    "predicted_value": money(figures["predicted_value"]),
                    "clv": money(figures["clv"]),
                    "_links": {"customers": customer_list_url(params, department_ids=department_ids, **scores)},
                }
            )
        columns = [
            Column("segment", _("客户分群"), TEXT),
            Column("rule", _("R / F / M"), TEXT),
            Column("customers", _("客户数"), INT),
            Column("share", _("占比"), PERCENT),
            Column("purchase_total", _("购买总额"), MONEY),
            Column("average", _("户均购买额"), MONEY),
            Column("predicted_value", _("预测12个月价值"), MONEY),
            Column("clv", _("客户终身价值"), MONEY),
        ]

        grid_rows = [
            {
                "recency": f"R{r}",
                **{f"f{f}": grid[(r, f)] for f in SCORES},
                "_links": {
                    f"f{f}": customer_list_url(params, department_ids=department_ids, recency=r, frequency=f)
                    for f in SCORES
                },
            }
            for r in reversed(SCORES)
        ]
        grid_table = Table(
            [Column("recency", _("R \\ F"), TEXT), *[Column(f"f{f}", f"F{f}", INT) for f in SCORES]],
            grid_rows,
            title=_("R × F 客户数（已购买客户）"),
        )

        distribution = value_distribution(user=user, params=params)
        value_rows = [
            {
                "bucket": label,
                "predicted_customers": distribution[f"predicted_value__{key}__n"],
                "predicted_sum": money(distribution[f"predicted_value__{key}__sum"]),
                "clv_customers": distribution[f"clv__{key}__n"],
                "clv_sum": money(distribution[f"clv__{key}__sum"]),
            }
            for key, label, _condition in value_buckets()
        ]
        value_table = Table(
            [
                Column("bucket", _("价值区间"), TEXT),
                Column("predicted_customers", _("客户数（预测12个月价值）"), INT),
                Column("predicted_sum", _("预测12个月价值合计"), MONEY),
                Column("clv_customers", _("客户数（客户终身价值）"), INT),
                Column("clv_sum", _("客户终身价值合计"), MONEY),
            ],
            value_rows,
            title=_("价值分布"),
        )

        top_rows = [
            {
                "customer": row["customer__name"],
                "owner": row["customer__owner__display_name"] or row["customer__owner__username"],
                "lifecycle": Lifecycle(row["lifecycle"]).label,
                "rfm": f"{row['recency']} / {row['frequency']} / {row['monetary']}",
                "purchase_count": row["purchase_count"],
                "purchase_total": money(row["purchase_total"]),
                "predicted_value": money(row["predicted_value"]),
                "clv": money(row["clv"]),
                "_links": {"customer": reverse("customers:detail", args=[row["customer_id"]])},
            }
            for row in top_customers(user=user, params=params, rank_by=rank_by)
        ]
        top_table = Table(
            [
                Column("customer", _("客户"), TEXT),
                Column("owner", _("负责人"), TEXT),
                Column("lifecycle", _("生命周期"), TEXT),
                Column("rfm", _("R / F / M"), TEXT),
                Column("purchase_count", _("购买次数"), INT),
                Column("purchase_total", _("购买总额"), MONEY),
                Column("predicted_value", _("预测12个月价值"), MONEY),
                Column("clv", _("客户终身价值"), MONEY),
            ],
            top_rows,
            title=_("高价值客户 Top %(count)d（按%(value)s）") % {"count": TOP, "value": dict(RANK_CHOICES)[rank_by]},
        )

        buyers = total - segments["no_purchase"]["customers"]
        summary = [
            Figure("customers", _("已计算画像客户数"), total, INT),
            Figure("buyers", _("已购买客户数"), buyers, INT),
            Figure("purchase_total", _("购买总额"), money(sum(s["purchase_total"] for s in segments.values()))),
            Figure(
                "predicted_value", _("预测12个月价值合计"), money(sum(s["predicted_value"] for s in segments.values()))
            ),
            Figure("clv", _("客户终身价值合计"), money(sum(s["clv"] for s in segments.values()))),
        ]
        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": [str(row["segment"]) for row in rows], "axisLabel": {"rotate": 30}},
            "yAxis": [{"type": "value", "name": str(_("客户数"))}, {"type": "value", "name": str(_("金额"))}],
            "series": [
                {"name": str(_("客户数")), "type": "bar", "data": [row["customers"] for row in rows]},
                {
                    "name": str(_("购买总额")),
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [float(row["purchase_total"]) for row in rows],
                },
            ],
        }
        return Result(
            table=Table(columns, rows, title=_("RFM 客户分群")),
            summary=summary,
            chart=chart,
            extra_tables=[grid_table, value_table, top_table],
        )


CUSTOMER_VALUE = CustomerValue()
