"""销售趋势: contract and payment amounts per period, each beside the previous period and the same
period a year earlier.

- Contract amount: contracts that count as sales (approved or later, ``Contract.objects.sales()``)
  by signed date — the date the profiles also count a purchase on.
- Payment amount: confirmed payments by payment date.
Both through the viewer's scope (the contract's owner and department) and the report filters.
"""

from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from analytics.reports.base import (
    INT,
    MONEY,
    PERCENT,
    Column,
    Figure,
    Report,
    Result,
    Table,
    between,
    daily,
    growth,
    money,
    narrow,
)
from analytics.reports.periods import DAY, span
from contracts.models import Contract, Payment, PaymentStatus


def sales_contracts(*, user, params):
    """The sales contracts the viewer may see, narrowed by the report filters."""
    return narrow(Contract.objects.visible_to(user).sales(), params)


def confirmed_payments(*, user, params):
    """The confirmed payments the viewer may see (their contracts' owner and department, which
    each payment carries), narrowed likewise."""
    return narrow(Payment.objects.visible_to(user).filter(status=PaymentStatus.CONFIRMED), params)


class SalesTrend(Report):
    key = "sales_trend"
    title = _("销售趋势")
    description = _("已审批合同金额与已确认回款金额，对比上期与去年同期。")
    permission = "contracts.view_contract"
    default_period = DAY

    def run(self, *, user, params):
        period = params.period
        buckets = period.buckets()
        previous, year_ago = period.previous(), period.year_ago()
        ranges = [period, previous, year_ago]
        for bucket in buckets:
            ranges += [bucket.previous(), bucket.year_ago()]
        first, last = span(*ranges)

        contracts = daily(
            sales_contracts(user=user, params=params),
            "signed_date",
            {"count": Count("id"), "amount": Sum("total")},
            first=first,
            last=last,
        )
        payments = daily(
            confirmed_payments(user=user, params=params), "date", {"amount": Sum("amount")}, first=first, last=last
        )

        rows = []
        for bucket in buckets:
            before, last_year = bucket.previous(), bucket.year_ago()
            contract_amount = money(between(contracts, bucket.start, bucket.end, "amount"))
            contract_before = money(between(contracts, *before, "amount"))
            contract_last_year = money(between(contracts, *last_year, "amount"))
            payment_amount = money(between(payments, bucket.start, bucket.end, "amount"))
            payment_before = money(between(payments, *before, "amount"))
            payment_last_year = money(between(payments, *last_year, "amount"))
            rows.append(
                {
                    "period": bucket.label,
                    "start": bucket.start,
                    "end": bucket.end,
                    "contracts": between(contracts, bucket.start, bucket.end, "count"),
                    "contract_amount": contract_amount,
                    "contract_previous": contract_before,
                    "contract_change": growth(contract_amount, contract_before),
                    "contract_last_year": contract_last_year,
                    "contract_yoy": growth(contract_amount, contract_last_year),
                    "payment_amount": payment_amount,
                    "payment_previous": payment_before,
                    "payment_change": growth(payment_amount, payment_before),
                    "payment_last_year": payment_last_year,
                    "payment_yoy": growth(payment_amount, payment_last_year),
                }
            )

        def total(days, rng, measure="amount"):
            return money(between(days, rng.start, rng.end, measure))

        contract_total, payment_total = total(contracts, period), total(payments, period)
        summary = [
            Figure("contract_amount", _("合同金额"), contract_total),
            Figure("contract_change", _("合同金额环比"), growth(contract_total, total(contracts, previous)), PERCENT),
            Figure("contract_yoy", _("合同金额同比"), growth(contract_total, total(contracts, year_ago)), PERCENT),
            Figure("payment_amount", _("回款金额"), payment_total),
            Figure("payment_change", _("回款金额环比"), growth(payment_total, total(payments, previous)), PERCENT),
            Figure("payment_yoy", _("回款金额同比"), growth(payment_total, total(payments, year_ago)), PERCENT),
            Figure("contracts", _("合同数"), between(contracts, period.start, period.end, "count"), INT),
        ]
        columns = [
            Column("period", _("周期")),
            Column("contracts", _("合同数"), INT),
            Column("contract_amount", _("合同金额"), MONEY),
            Column("contract_previous", _("上期合同金额"), MONEY),
            Column("contract_change", _("合同环比"), PERCENT),
            Column("contract_last_year", _("去年同期合同金额"), MONEY),
            Column("contract_yoy", _("合同同比"), PERCENT),
            Column("payment_amount", _("回款金额"), MONEY),
            Column("payment_previous", _("上期回款金额"), MONEY),
            Column("payment_change", _("回款环比"), PERCENT),
            Column("payment_last_year", _("去年同期回款金额"), MONEY),
            Column("payment_yoy", _("回款同比"), PERCENT),
        ]
        labels = [row["period"] for row in rows]

        def series(name, key, kind="bar", **extra):
            return {"name": str(name), "type": kind, "data": [float(row[key]) for row in rows], **extra}

        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": {"type": "value"},
            "series": [
                series(_("合同金额"), "contract_amount"),
                series(_("回款金额"), "payment_amount"),
                series(_("去年同期合同金额"), "contract_last_year", "line", lineStyle={"type": "dashed"}),
                series(_("去年同期回款金额"), "payment_last_year", "line", lineStyle={"type": "dashed"}),
            ],
        }
        return Result(table=Table(columns, rows), summary=summary, chart=chart)


SALES_TREND = SalesTrend()
