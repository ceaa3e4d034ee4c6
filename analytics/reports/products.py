"""产品排行: products (main table) and product categories (extra table) ranked by amount or
quantity sold.

Sold = the lines of the sales contracts (approved or later, ``Contract.objects.sales()``) the
viewer may see, signed (``signed_date``) in the period and narrowed by the department / owner
filters on the contract. Amount = Σ line subtotal (after discount), quantity = Σ line quantity;
a category's quantity adds up its products' quantities whatever their units. The period is the
whole range (the ranking is over all of it, not per bucket).

Three queries: per product, per category, and the totals — GROUP BYs over the lines joined to
the period's contracts.
"""

from django import forms
from django.db.models import Count, Sum
from django.utils.translation import gettext_lazy as _

from analytics.reports.base import (
    INT,
    MONEY,
    NUMBER,
    PERCENT,
    TEXT,
    Column,
    Figure,
    Report,
    Result,
    Table,
    in_period,
    money,
    ratio,
)
from analytics.reports.sales import sales_contracts
from contracts.models import ContractLine

ORDER_CHOICES = [("amount", _("按金额")), ("quantity", _("按数量"))]
UNCATEGORISED = _("未分类")
CHART_TOP = 10


def sold_lines(*, user, params):
    """The lines of the sales contracts the viewer sees, signed in the period, filters applied."""
    contracts = in_period(sales_contracts(user=user, params=params), "signed_date", params.period)
    return ContractLine.objects.filter(contract__in=contracts.values("pk"))


def product_ranking(*, user, params, order="amount"):
    """{"products": [...], "categories": [...], "totals": {...}} — each row's amount, quantity and
    number of contracts (and a category's number of products), largest ``order`` first."""
    lines = sold_lines(user=user, params=params).order_by()
    measures = {
        "amount": Sum("subtotal"),
        "quantity": Sum("quantity"),
        "contracts": Count("contract_id", distinct=True),
    }
    ordering = ("-amount", "-quantity") if order == "amount" else ("-quantity", "-amount")
    products = (
        lines.values("product_id", "product__code", "product__name", "product__category", "product__unit")
        .annotate(**measures)
        .order_by(*ordering, "product__code")
    )
    categories = (
        lines.values("product__category")
        .annotate(**measures, products=Count("product_id", distinct=True))
        .order_by(*ordering, "product__category")
    )
    totals = lines.aggregate(**measures)
    return {"products": list(products), "categories": list(categories), "totals": totals}


class ProductRanking(Report):
    key = "product_ranking"
    title = _("产品排行")
    description = _("所选期间签约的已审批合同中，各产品及产品分类的销售金额与数量排行。")
    permission = "contracts.view_contract"

    def extra_fields(self):
        return {
            "order": forms.ChoiceField(
                label=_("排序"),
                choices=ORDER_CHOICES,
                required=False,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )
        }

    def run(self, *, user, params):
        order = params.cleaned_data.get("order") or "amount"
        figures = product_ranking(user=user, params=params, order=order)
        totals = figures["totals"]
        total_amount = money(totals["amount"])

        rows = [
            {
                "rank": rank,
                "code": row["product__code"],
                "product": row["product__name"],
                "category": row["product__category"] or str(UNCATEGORISED),
                "unit": row["product__unit"],
                "quantity": row["quantity"],
                "amount": money(row["amount"]),
                "share": ratio(row["amount"], totals["amount"]),
                "contracts": row["contracts"],
            }
            for rank, row in enumerate(figures["products"], 1)
        ]
        categories = [
            {
                "rank": rank,
                "category": row["product__category"] or str(UNCATEGORISED),
                "products": row["products"],
                "quantity": row["quantity"],
                "amount": money(row["amount"]),
                "share": ratio(row["amount"], totals["amount"]),
                "contracts": row["contracts"],
            }
            for rank, row in enumerate(figures["categories"], 1)
        ]
        columns = [
            Column("rank", _("排名"), INT),
            Column("code", _("产品编码")),
            Column("product", _("产品名称")),
            Column("category", _("产品分类")),
            Column("unit", _("单位"), TEXT),
            Column("quantity", _("数量"), NUMBER),
            Column("amount", _("金额"), MONEY),
            Column("share", _("金额占比"), PERCENT),
            Column("contracts", _("合同数"), INT),
        ]
        category_table = Table(
            [
                Column("rank", _("排名"), INT),
                Column("category", _("产品分类")),
                Column("products", _("产品数"), INT),
                Column("quantity", _("数量"), NUMBER),
                Column("amount", _("金额"), MONEY),
                Column("share", _("金额占比"), PERCENT),
                Column("contracts", _("合同数"), INT),
            ],
            categories,
            title=_("产品分类排行"),
        )
        summary = [
            Figure("amount", _("销售金额"), total_amount),
            Figure("quantity", _("销售数量"), totals["quantity"] or 0, NUMBER),
            Figure("products", _("产品数"), len(rows), INT),
            Figure("contracts", _("合同数"), totals["contracts"] or 0, INT),
        ]
        top = list(reversed(rows[:CHART_TOP]))  # the largest at the top of a horizontal bar chart
        measure = "amount" if order == "amount" else "quantity"
        chart = {
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "value"},
            "yAxis": {"type": "category", "data": [row["product"] for row in top]},
            "series": [
                {
                    "name": str(_("金额") if measure == "amount" else _("数量")),
                    "type": "bar",
                    "data": [float(row[measure]) for row in top],
                }
            ],
        }
        return Result(table=Table(columns, rows), summary=summary, chart=chart, extra_tables=[category_table])


PRODUCT_RANKING = ProductRanking()
