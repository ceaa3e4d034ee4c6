"""流失分析: the churn rate per period bucket (monthly by default), the churn-risk distribution and
the at-risk list with owners and recommended actions.

Everything is read from the customer profiles (客户画像) of the customers the viewer may see
(``CustomerProfile.objects.visible_to``: the customer's scope — live customers with an owner),
narrowed by the department (with the departments below it) and owner filters on the customer's
department and owner. Customers whose profile has not been computed yet are not counted.

Churn rate (流失率) — what the profile can support: a profile keeps a customer's *latest* purchase
(``last_purchase_at``) and *latest* contact (``last_contact_at``: the last follow-up, or the
creation). A customer churns (流失) at the moment ``CHURN_WINDOW`` (180 days, the churn model's
label window and the lifecycle's "lost" threshold) has passed since the later of the two without
a new purchase or follow-up: ``churned_at = greatest(last_purchase_at, last_contact_at) + 180
days``. For a bucket [start, end) (local midnights, Asia/Shanghai):

- churned: customers whose ``churned_at`` falls in [start, end) and is already past (not after now);
- active at the start: customers created before ``start`` whose ``churned_at`` is at or after
  ``start`` (they had not lapsed by then);
- churn rate = churned / active at the start (— when nobody was active).

Since only the latest activity is kept, a customer who lapsed once and came back later counts as
active through the earlier gap: the rate is of customers who are still lapsed today, each counted
in the bucket in which they lapsed. The figures move as profiles are recomputed (nightly and soon
after a follow-up or a contract).

Risk distribution: the profile's churn risk in bands (``RISK_BANDS``, upper bound inclusive; "high"
is the profile rules' HIGH_RISK, above which 高优先级跟进 is recommended); each count links to the
customer list's churn-risk filters (流失风险 > / ≤), which select the same customers.

At-risk list (流失预警): customers not yet lost (lifecycle ≠ 已流失客户) whose churn risk is above
HIGH_RISK or whose lifecycle is 流失风险客户, highest risk first (then CLV, then customer id), at
most ``AT_RISK_LIMIT`` rows, with owner and the profile's recommended actions.
"""

import datetime
from decimal import Decimal

from django.db.models import Count, DateTimeField, ExpressionWrapper, Q, Sum, Value
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from analytics.models import Lifecycle
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
    ratio,
)
from analytics.reports.distribution import customer_list_url, report_department_ids
from analytics.reports.periods import MONTH, local_midnight
from analytics.reports.value import visible_profiles
from analytics.rules import HIGH_RISK

CHURN_WINDOW = datetime.timedelta(days=180)
AT_RISK_LIMIT = 50
HIGH = Decimal(str(HIGH_RISK))
# (key, label, lower bound exclusive or None, upper bound inclusive or None)
RISK_BANDS = [
    ("none", _("无风险（0）"), None, Decimal("0")),
    ("low", _("低风险（≤30%）"), Decimal("0"), Decimal("0.3")),
    ("medium", _("中风险（30%–70%）"), Decimal("0.3"), HIGH),
    ("high", _("高风险（>70%）"), HIGH, None),
]


def _band_q(lower, upper):
    condition = Q()
    if lower is not None:
        condition &= Q(churn_risk__gt=lower)
    if upper is not None:
        condition &= Q(churn_risk__lte=upper)
    return condition


def churned_at():
    """When a profile's customer lapses: CHURN_WINDOW after the later of the last purchase and the
    last contact (GREATEST ignores a missing purchase)."""
    return ExpressionWrapper(
        Greatest("last_purchase_at", "last_contact_at") + Value(CHURN_WINDOW), output_field=DateTimeField()
    )


# At risk: not yet lost, and a churn risk above HIGH_RISK or the 流失风险客户 lifecycle.
AT_RISK = (Q(churn_risk__gt=HIGH) | Q(lifecycle=Lifecycle.AT_RISK)) & ~Q(lifecycle=Lifecycle.LOST)


def _churn_measures(params, now):
    """The FILTERed counts of ``churn_by_bucket``: of the profiles still active at the period's
    start and created before its end, per bucket the churned and the active at its start."""
    period_start, period_end = params.period.aware_bounds()
    in_period = Q(report_churned_at__gte=period_start, customer_created_at__lt=period_end)
    measures = {}
    for index, bucket in enumerate(params.period.buckets()):
        start = local_midnight(bucket.start)
        end = min(local_midnight(bucket.end + datetime.timedelta(days=1)), now)
        churned = Q(report_churned_at__gte=start, report_churned_at__lt=end)
        active = Q(customer_created_at__lt=start, report_churned_at__gte=start)
        measures[f"churned_{index}"] = Count("pk", filter=in_period & churned)
        measures[f"active_{index}"] = Count("pk", filter=in_period & active)
    return measures


def _band_measures():
    measures = {}
    for key, _label, lower, upper in RISK_BANDS:
        condition = _band_q(lower, upper)
        measures[f"{key}__customers"] = Count("pk", filter=condition)
        measures[f"{key}__purchase_total"] = Sum("purchase_total", filter=condition)
        measures[f"{key}__clv"] = Sum("clv", filter=condition)
    return measures


def churn_figures(*, user, params, now=None):
    """(churn per bucket, risk bands, at-risk count) in one aggregate over the visible profiles
    (each profile's page read once, not once per figure):

    - {bucket index: (churned, active at the start)};
    - {band key: {customers, purchase_total, clv}};
    - how many profiles ``at_risk_profiles`` holds."""
    now = now or timezone.now()
    measures = {**_churn_measures(params, now), **_band_measures(), "at_risk": Count("pk", filter=AT_RISK)}
    figures = visible_profiles(user=user, params=params).annotate(report_churned_at=churned_at()).aggregate(**measures)
    churn = {
        index: (figures[f"churned_{index}"], figures[f"active_{index}"])
        for index in range(len(params.period.buckets()))
    }
    bands = {
        key: {measure: figures[f"{key}__{measure}"] for measure in ("customers", "purchase_total", "clv")}
        for key, *_rest in RISK_BANDS
    }
    return churn, bands, figures["at_risk"]


def at_risk_profiles(*, user, params):
    """The at-risk customers' profiles (see the module's docstring), unordered and unbounded."""
    return visible_profiles(user=user, params=params).filter(AT_RISK)


def at_risk_list(*, user, params):
    """The first AT_RISK_LIMIT at-risk profiles as dicts (how many there are: ``churn_figures``)."""
    profiles = at_risk_profiles(user=user, params=params)
    return list(
        profiles.order_by("-churn_risk", "-clv", "customer_id").values(
            "customer_id",
            "customer__name",
            "customer__owner__display_name",
            "customer__owner__username",
            "lifecycle",
            "churn_risk",
            "last_purchase_at",
            "last_contact_at",
            "purchase_total",
            "clv",
            "recommended_actions",
        )[:AT_RISK_LIMIT]
    )


def _local_date(moment):
    return timezone.localtime(moment).date() if moment else None


class ChurnAnalysis(Report):
    key = "churn"
    title = _("流失分析")
    description = _(
        "各周期流失率（客户最近一次购买或联系后 180 天无购买、无跟进即计为流失）、流失风险分布与流失预警客户。"
    )
    permission = "customers.view_customer"
    default_period = MONTH

    def run(self, *, user, params):
        buckets = params.period.buckets()
        churn, bands, at_risk_count = churn_figures(user=user, params=params)
        rows = []
        for index, bucket in enumerate(buckets):
            churned, active = churn[index]
            rows.append(
                {
                    "period": bucket.label,
                    "active": active,
                    "churned": churned,
                    "rate": ratio(churned, active),
                }
            )
        columns = [
            Column("period", _("周期"), TEXT),
            Column("active", _("期初活跃客户数"), INT),
            Column("churned", _("流失客户数"), INT),
            Column("rate", _("流失率"), PERCENT),
        ]

        department_ids = report_department_ids(params)
        profiled = sum(band["customers"] for band in bands.values())
        band_rows = []
        for key, label, lower, upper in RISK_BANDS:
            filters = {}
            if lower is not None:
                filters["churn_risk_gt"] = lower
            if upper is not None:
                filters["churn_risk_lte"] = upper
            band_rows.append(
                {
                    "band": label,
                    "customers": bands[key]["customers"],
                    "share": ratio(bands[key]["customers"], profiled),
                    "purchase_total": money(bands[key]["purchase_total"]),
                    "clv": money(bands[key]["clv"]),
                    "_links": {"customers": customer_list_url(params, department_ids=department_ids, **filters)},
                }
            )
        band_table = Table(
            [
                Column("band", _("流失风险"), TEXT),
                Column("customers", _("客户数"), INT),
                Column("share", _("占比"), PERCENT),
                Column("purchase_total", _("购买总额"), MONEY),
                Column("clv", _("客户终身价值"), MONEY),
            ],
            band_rows,
            title=_("流失风险分布（当前）"),
        )

        at_risk = at_risk_list(user=user, params=params)
        at_risk_rows = [
            {
                "customer": row["customer__name"],
                "owner": row["customer__owner__display_name"] or row["customer__owner__username"],
                "lifecycle": Lifecycle(row["lifecycle"]).label,
                "churn_risk": row["churn_risk"],
                "last_purchase": _local_date(row["last_purchase_at"]),
                "last_contact": _local_date(row["last_contact_at"]),
                "purchase_total": money(row["purchase_total"]),
                "clv": money(row["clv"]),
                "actions": "、".join(gettext(action) for action in row["recommended_actions"]),
                "_links": {"customer": reverse("customers:detail", args=[row["customer_id"]])},
            }
            for row in at_risk
        ]
        at_risk_table = Table(
            [
                Column("customer", _("客户"), TEXT),
                Column("owner", _("负责人"), TEXT),
                Column("lifecycle", _("生命周期"), TEXT),
                Column("churn_risk", _("流失风险"), PERCENT),
                Column("last_purchase", _("最近购买"), TEXT),
                Column("last_contact", _("最近联系"), TEXT),
                Column("purchase_total", _("购买总额"), MONEY),
                Column("clv", _("客户终身价值"), MONEY),
                Column("actions", _("推荐行动"), TEXT),
            ],
            at_risk_rows,
            title=_("流失预警客户（风险最高的 %(count)d 位）") % {"count": AT_RISK_LIMIT},
        )

        churned_total = sum(row["churned"] for row in rows)
        summary = [
            Figure("churned", _("期间流失客户数"), churned_total, INT),
            Figure("average_rate", _("平均流失率"), self.average_rate(rows), PERCENT),
            Figure("high_risk", _("高风险客户数"), bands["high"]["customers"], INT),
            Figure("at_risk", _("流失预警客户数"), at_risk_count, INT),
        ]
        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": [row["period"] for row in rows]},
            "yAxis": [
                {"type": "value", "name": str(_("客户数"))},
                {"type": "value", "name": str(_("流失率（%）"))},
            ],
            "series": [
                {"name": str(_("流失客户数")), "type": "bar", "data": [row["churned"] for row in rows]},
                {
                    "name": str(_("流失率（%）")),
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [None if row["rate"] is None else float(row["rate"] * 100) for row in rows],
                },
            ],
        }
        return Result(
            table=Table(columns, rows, title=_("各周期流失率")),
            summary=summary,
            chart=chart,
            extra_tables=[band_table, at_risk_table],
        )

    @staticmethod
    def average_rate(rows):
        """The mean of the buckets' rates (buckets without active customers left out)."""
        rates = [row["rate"] for row in rows if row["rate"] is not None]
        if not rates:
            return None
        return ratio(sum(rates), len(rates))


CHURN_ANALYSIS = ChurnAnalysis()
