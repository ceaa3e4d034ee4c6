"""应收款与账龄: ``contracts.selectors.payments.receivables_report`` on the report page.

A snapshot as of today, so no period (``uses_period = False``): over the sales contracts
(approved or later) the viewer may see, narrowed by the department / owner filters on the
contract — receivable = contract total − confirmed payments; overdue money by age (0–30 / 31–60 /
61–90 / 90+ days past the instalment's due date, confirmed payments settling the oldest
instalments first) as the main table, and the receivable of the ``TOP_CUSTOMERS`` customers
owing most as an extra table. Every
rule is the contracts selector's; this module only lays it out.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.reports.base import INT, MONEY, PERCENT, Column, Figure, Report, Result, Table, narrow, ratio
from contracts.selectors import payments as selectors

BUCKET_LABELS = {
    "0-30": _("逾期 1–30 天"),
    "31-60": _("逾期 31–60 天"),
    "61-90": _("逾期 61–90 天"),
    "90+": _("逾期 90 天以上"),
}


# The customers table lists the largest receivables only: a company's thousands of customers
# with money outstanding are the receivables page's (paged) list, not a report table.
TOP_CUSTOMERS = 100


def receivables(*, user, params, today=None):
    """The receivables report of the contracts the viewer sees, narrowed by the filters: the
    summary and the ageing (``receivables_report`` without rows) and the ``TOP_CUSTOMERS``
    customers with the largest receivables."""
    contracts = narrow(selectors.receivable_contracts(user=user), params)
    report = selectors.receivables_report(contracts=contracts, group="ageing", today=today or timezone.localdate())
    report["rows"] = selectors.receivables_by_customer(contracts=contracts, limit=TOP_CUSTOMERS)
    return report


class Receivables(Report):
    key = "receivables"
    title = _("应收款与账龄")
    description = _("截至今天的应收款（合同金额减已确认回款）与逾期账龄，及各客户应收款。")
    permission = "contracts.view_contract"
    uses_period = False

    def run(self, *, user, params):
        report = receivables(user=user, params=params)
        summary_figures = report["summary"]
        overdue = summary_figures["overdue"]
        rows = [
            {
                "bucket": str(BUCKET_LABELS.get(row["bucket"], row["bucket"])),
                "count": row["count"],
                "amount": row["amount"],
                "share": ratio(row["amount"], overdue),
            }
            for row in report["ageing"]
        ]
        columns = [
            Column("bucket", _("账龄")),
            Column("count", _("逾期期数"), INT),
            Column("amount", _("逾期金额"), MONEY),
            Column("share", _("占逾期比例"), PERCENT),
        ]
        customers = Table(
            [
                Column("name", _("客户")),
                Column("contracts", _("合同数"), INT),
                Column("total", _("合同金额"), MONEY),
                Column("paid", _("已回款"), MONEY),
                Column("receivable", _("应收款"), MONEY),
            ],
            report["rows"],
            title=_("应收款最多的客户（前 %(count)d 位）") % {"count": TOP_CUSTOMERS},
        )
        summary = [
            Figure("contracts", _("合同数"), summary_figures["contracts"], INT),
            Figure("total", _("合同金额"), summary_figures["total"]),
            Figure("paid", _("已回款"), summary_figures["paid"]),
            Figure("receivable", _("应收款"), summary_figures["receivable"]),
            Figure("overdue", _("逾期金额"), overdue),
        ]
        chart = {
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 8, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": [row["bucket"] for row in rows]},
            "yAxis": {"type": "value"},
            "series": [{"name": str(_("逾期金额")), "type": "bar", "data": [float(row["amount"]) for row in rows]}],
        }
        return Result(table=Table(columns, rows), summary=summary, chart=chart, extra_tables=[customers])


RECEIVABLES = Receivables()
