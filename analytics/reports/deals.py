"""Deal reports over ``opportunities.selectors`` (the deals the viewer may see, their funnel and
loss reasons — one home for those rules):

- 赢单/输单 (``win_loss``): deals closed in the period, per bucket — won (a won stage, ``won_at``
  in the bucket) and lost (a lost stage, ``lost_at`` in the bucket), count and amount each, and
  the win rate won / (won + lost) as the funnel defines it; the loss reasons of the deals lost in
  the period as an extra table. Calendar days in Asia/Shanghai. Three queries.
- 销售漏斗 (``funnel``): ``opportunities.selectors.funnel`` over the deals created in the period
  (as the funnel page does) in the chosen stage group (default: the viewer's department's).
"""

from django import forms
from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from analytics.reports.base import (
    INT,
    MONEY,
    NUMBER,
    PERCENT,
    Column,
    Figure,
    Report,
    Result,
    Table,
    between,
    daily,
    in_period,
    money,
    narrow,
    ratio,
)
from opportunities import selectors
from opportunities.models import StageGroup, StageKind

NO_REASON = _("未填写原因")


def report_deals(*, user, params):
    """The deals the viewer may see, narrowed by the report filters."""
    return narrow(selectors.opportunity_list(user=user).order_by(), params)


def _loss_table(reasons, title):
    lost = sum(row["count"] for row in reasons)
    rows = [
        {
            "reason": row["name"] or str(NO_REASON),
            "count": row["count"],
            "share": ratio(row["count"], lost),
            "amount": row["amount"],
        }
        for row in reasons
    ]
    columns = [
        Column("reason", _("输单原因")),
        Column("count", _("输单数"), INT),
        Column("share", _("占比"), PERCENT),
        Column("amount", _("输单金额"), MONEY),
    ]
    return Table(columns, rows, title=title)


class WinLoss(Report):
    key = "win_loss"
    title = _("赢单/输单")
    description = _("各周期赢单与输单的数量、金额和赢率（按赢单/输单时间），以及输单原因。")
    permission = "opportunities.view_opportunity"

    def run(self, *, user, params):
        period = params.period
        deals = report_deals(user=user, params=params)
        measures = {"count": Count("id"), "amount": Sum("amount")}
        won = daily(
            deals.filter(stage__kind=StageKind.WON),
            "won_at",
            measures,
            first=period.start,
            last=period.end,
            is_datetime=True,
        )
        lost = daily(
            deals.filter(stage__kind=StageKind.LOST),
            "lost_at",
            measures,
            first=period.start,
            last=period.end,
            is_datetime=True,
        )
        reasons = selectors.loss_reasons(deals=in_period(deals, "lost_at", period, is_datetime=True))

        rows = []
        for bucket in period.buckets():
            won_count = between(won, bucket.start, bucket.end, "count")
            lost_count = between(lost, bucket.start, bucket.end, "count")
            won_amount = money(between(won, bucket.start, bucket.end, "amount"))
            rows.append(
                {
                    "period": bucket.label,
                    "won": won_count,
                    "won_amount": won_amount,
                    "lost": lost_count,
                    "lost_amount": money(between(lost, bucket.start, bucket.end, "amount")),
                    "closed": won_count + lost_count,
                    "win_rate": ratio(won_count, won_count + lost_count),
                    "average_won": money(won_amount / won_count) if won_count else None,
                }
            )
        total_won = sum(row["won"] for row in rows)
        total_lost = sum(row["lost"] for row in rows)
        total_won_amount = money(sum(row["won_amount"] for row in rows))
        summary = [
            Figure("won", _("赢单数"), total_won, INT),
            Figure("won_amount", _("赢单金额"), total_won_amount),
            Figure("lost", _("输单数"), total_lost, INT),
            Figure("lost_amount", _("输单金额"), money(sum(row["lost_amount"] for row in rows))),
            Figure("win_rate", _("赢率"), ratio(total_won, total_won + total_lost), PERCENT),
        ]
        columns = [
            Column("period", _("周期")),
            Column("won", _("赢单数"), INT),
            Column("won_amount", _("赢单金额"), MONEY),
            Column("lost", _("输单数"), INT),
            Column("lost_amount", _("输单金额"), MONEY),
            Column("closed", _("结单数"), INT),
            Column("win_rate", _("赢率"), PERCENT),
            Column("average_won", _("平均赢单金额"), MONEY),
        ]
        labels = [row["period"] for row in rows]
        chart = {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 8, "right": 8, "top": 40, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": [{"type": "value", "minInterval": 1}, {"type": "value", "max": 100, "splitLine": {"show": False}}],
            "series": [
                {"name": str(_("赢单数")), "type": "bar", "data": [row["won"] for row in rows]},
                {"name": str(_("输单数")), "type": "bar", "data": [row["lost"] for row in rows]},
                {
                    "name": str(_("赢率（%）")),
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [float(row["win_rate"] * 100) if row["win_rate"] is not None else None for row in rows],
                },
            ],
        }
        return Result(
            table=Table(columns, rows),
            summary=summary,
            chart=chart,
            extra_tables=[_loss_table(reasons, _("输单原因"))],
        )


class Funnel(Report):
    key = "funnel"
    title = _("销售漏斗")
    description = _("所选期间新建的商机到达各阶段的数量、金额、转化率与停留天数，以及赢率和输单原因。")
    permission = "opportunities.view_opportunity"

    def extra_fields(self):
        return {
            "group": forms.ModelChoiceField(
                label=_("阶段组"),
                queryset=StageGroup.objects.order_by("order", "id"),
                required=False,
                empty_label=_("本部门默认"),
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        }

    def run(self, *, user, params):
        group = params.cleaned_data.get("group") or selectors.stage_group_for(user.department)
        deals = in_period(report_deals(user=user, params=params), "created_at", params.period, is_datetime=True)
        if group is None:  # no pipeline configured at all
            result = {"stages": [], "won": 0, "lost": 0, "win_rate": None, "average_won_amount": None}
            result |= {"average_cycle_days": None, "loss_reasons": []}
        else:
            result = selectors.funnel(deals=deals, group=group)
        rows = [
            {
                "stage": row["stage"].name,
                "probability": row["stage"].probability,
                "count": row["count"],
                "amount": row["amount"],
                "weighted_amount": row["weighted_amount"],
                "average_amount": row["average_amount"],
                "conversion_rate": row["conversion_rate"],
                "average_days": row["average_days"],
            }
            for row in result["stages"]
        ]
        columns = [
            Column("stage", _("阶段")),
            Column("probability", _("赢率（%）"), INT),
            Column("count", _("商机数"), INT),
            Column("amount", _("金额"), MONEY),
            Column("weighted_amount", _("加权金额"), MONEY),
            Column("average_amount", _("平均金额"), MONEY),
            Column("conversion_rate", _("转化率"), PERCENT),
            Column("average_days", _("平均停留天数"), NUMBER),
        ]
        summary = [
            Figure("won", _("赢单数"), result["won"], INT),
            Figure("lost", _("输单数"), result["lost"], INT),
            Figure("win_rate", _("赢率"), result["win_rate"], PERCENT),
            Figure("average_won_amount", _("平均赢单金额"), result["average_won_amount"]),
            Figure("average_cycle_days", _("平均成交周期（天）"), result["average_cycle_days"], NUMBER),
        ]
        chart = {
            "tooltip": {"trigger": "item"},
            "series": [
                {
                    "name": str(self.title),
                    "type": "funnel",
                    "sort": "none",
                    "top": 8,
                    "bottom": 8,
                    "label": {"show": True, "position": "inside"},
                    "data": [{"name": row["stage"], "value": row["count"]} for row in rows],
                }
            ],
        }
        return Result(
            table=Table(columns, rows),
            summary=summary,
            chart=chart,
            extra_tables=[_loss_table(result["loss_reasons"], _("输单原因"))],
        )


WIN_LOSS = WinLoss()
FUNNEL = Funnel()
