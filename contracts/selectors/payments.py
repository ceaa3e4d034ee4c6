"""Reads of payment plans, payments, invoices, invoice titles and receivables (应收).

Everything starts from the viewer's scope: plans, payments and invoices through their contract
(``<Model>.objects.visible_to(user)``), invoice titles through their customer
(``Customer.objects.visible_to``), receivables from ``Contract.objects.visible_to(user)``. Every
figure is an SQL aggregate."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce, Greatest, Least

from contracts.models import (
    SALES_STATUSES,
    Contract,
    Invoice,
    InvoiceStatus,
    InvoiceTitle,
    Payment,
    PaymentPlan,
    PaymentStatus,
)
from customers.models import Customer
from staff.models import User
from staff.scope import get_for_user

CENT = Decimal("0.01")
SUM_FIELD = DecimalField(max_digits=18, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=SUM_FIELD)
# Ageing buckets of overdue money: (key, first day, last day or None). Days overdue = today − due
# date, so an instalment due yesterday is 1 day overdue (bucket 0–30).
AGEING_BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


def money(value):
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def _sum(expression, **kwargs):
    return Coalesce(Sum(expression, output_field=SUM_FIELD, **kwargs), ZERO, output_field=SUM_FIELD)


# --- lists --------------------------------------------------------------------------------------


def payment_plan_list(*, user):
    return PaymentPlan.objects.visible_to(user).select_related("contract")


def payment_plan_get_for_user(*, user, pk):
    return get_for_user(payment_plan_list(user=user), user=user, pk=pk)


def contract_plans(*, contract):
    """The instalments of one contract (already checked to be in the viewer's scope)."""
    return PaymentPlan.objects.filter(contract=contract).order_by("number")


def payment_list(*, user):
    return Payment.objects.visible_to(user).select_related(
        "contract", "contract__customer", "plan", "entered_by", "confirmed_by"
    )


def payment_get_for_user(*, user, pk):
    return get_for_user(payment_list(user=user), user=user, pk=pk)


def contract_payments(*, contract):
    return Payment.objects.filter(contract=contract).select_related("plan", "entered_by", "confirmed_by")


def invoice_list(*, user):
    return Invoice.objects.visible_to(user).select_related("contract", "contract__customer", "applied_by")


def invoice_get_for_user(*, user, pk):
    return get_for_user(invoice_list(user=user), user=user, pk=pk)


def contract_invoices(*, contract):
    return Invoice.objects.filter(contract=contract).select_related("applied_by")


def invoice_title_list(*, user):
    """Invoice titles of the customers ``user`` sees."""
    return InvoiceTitle.objects.filter(customer__in=Customer.objects.visible_to(user).values("pk")).select_related(
        "customer"
    )


def invoice_title_get_for_user(*, user, pk):
    """One title of a customer in the viewer's scope, or 404 (missing and out of scope alike)."""
    from django.http import Http404

    try:
        return invoice_title_list(user=user).get(pk=pk)
    except (InvoiceTitle.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def contract_payment_figures(*, contract):
    """What the contract page shows about money: total, paid (confirmed), outstanding, progress %,
    invoiced (issued), invoiced minus paid, and the sum awaiting confirmation — one query."""
    figures = Payment.objects.filter(contract=contract).aggregate(
        awaiting=_sum("amount", filter=Q(status__in=(PaymentStatus.UNCONFIRMED, PaymentStatus.PENDING)))
    )
    applied = Invoice.objects.filter(contract=contract, status=InvoiceStatus.APPLIED).aggregate(total=_sum("amount"))
    total, paid, invoiced = contract.total, contract.paid_amount, contract.invoiced_amount
    return {
        "total": total,
        "paid": paid,
        "outstanding": total - paid,
        "progress": contract.progress,
        "invoiced": invoiced,
        "invoice_applied": money(applied["total"]),
        "invoiced_not_paid": invoiced - paid,
        "awaiting": money(figures["awaiting"]),
    }


# --- receivables --------------------------------------------------------------------------------


def receivable_contracts(*, user):
    """The contracts that count as sales (approved or later, not void) in ``user``'s scope: the
    base of every receivable figure. Receivable of a contract = total − confirmed payments."""
    return Contract.objects.visible_to(user).filter(status__in=SALES_STATUSES)


def _receivable():
    return ExpressionWrapper(F("total") - F("paid_amount"), output_field=SUM_FIELD)


# Aggregate names differ from the columns: an annotation named "total" would shadow F("total").
FIGURES = {"sum_total": "total", "sum_paid": "paid", "sum_receivable": "receivable"}


def _figures():
    return {
        "contracts": Count("pk"),
        "sum_total": _sum("total"),
        "sum_paid": _sum("paid_amount"),
        "sum_receivable": _sum(_receivable()),
    }


def _money_figures(row):
    return {"contracts": row["contracts"], **{name: money(row[key]) for key, name in FIGURES.items()}}


def receivables_summary(*, contracts):
    """Contracts, total, paid and receivable over ``contracts``, one query."""
    return _money_figures(contracts.order_by().aggregate(**_figures()))


def _group(contracts, key, names, limit=None):
    """Rows per ``key`` with money still to come, largest first (the first ``limit``). Grouped on
    the key alone, then named (``_named``): with the name in the GROUP BY, PostgreSQL joined every
    customer (500,000) to name the thousands a department's contracts have, to keep a hundred."""
    rows = (
        contracts.order_by()
        .values(key)
        .annotate(**_figures())
        .filter(sum_receivable__gt=0)
        .order_by("-sum_receivable", key)
    )
    return _named(list(rows if limit is None else rows[:limit]), key, names)


def _named(rows, key, names):
    named = names([row[key] for row in rows if row[key] is not None])
    return [{"key": row[key], "name": named.get(row[key]) or "", **_money_figures(row)} for row in rows]


def _customer_names(ids):
    return dict(Customer.objects.filter(pk__in=ids).values_list("pk", "name"))


def _owner_names(ids):
    return dict(User.objects.filter(pk__in=ids).values_list("pk", "display_name"))


def receivables_by_customer(*, contracts, limit=None):
    """Per customer with money still to come: contracts, total, paid, receivable (largest first;
    the first ``limit`` only when given)."""
    return _group(contracts, "customer_id", _customer_names, limit)


def receivables_by_owner(*, contracts):
    """Per contract owner (负责人) with money still to come, largest first."""
    return _group(contracts, "owner_id", _owner_names)


def receivables_ageing(*, contracts, today):
    """Overdue receivables by age, in one query over the instalments of ``contracts``.

    What we chose: a contract's confirmed payments (``Contract.paid_amount``) pay its instalments
    oldest first (by due date, then number) — whether or not a payment names an instalment — so an
    instalment's unpaid remainder is ``min(amount, max(0, cumulative amount up to it − paid))``.
    The overdue money is then never more than the receivable (total − confirmed payments), and a
    payment entered without an instalment still counts. An instalment is overdue when its due date
    is before ``today`` and a remainder is left; its age is ``today − due date`` in days: 0–30 holds
    1…30 days, 31–60 holds 31…60, 61–90 holds 61…90, 90+ holds 91 days and more. (The plan's own
    statuses — 逾期 and so on — follow the payments linked to each instalment.)

    Returns {"buckets": [{"bucket", "count" (instalments), "amount"}] for the four buckets in
    order (zeros included), "overdue": the total}."""
    cumulative = Window(
        Sum("amount"), partition_by=[F("contract_id")], order_by=[F("due_date").asc(), F("number").asc()]
    )
    # The contract's paid amount by its key, row by row: a join let PostgreSQL hash all 1,000,000
    # contracts for the few thousand instalments.
    paid = Subquery(Contract.objects.filter(pk=OuterRef("contract_id")).values("paid_amount")[:1])
    remainder = Least(F("amount"), Greatest(F("cumulative") - paid, ZERO), output_field=SUM_FIELD)
    # Filtering on due date inside the window is safe: instalments are summed in due-date order,
    # so an overdue instalment's cumulative amount only holds earlier (also overdue) ones. So is
    # leaving out the contracts paid in full: their instalments add up to their total, so no
    # remainder is left (at 1,000,000 contracts, two thirds of a department's instalments).
    unpaid = contracts.order_by().filter(paid_amount__lt=F("total")).values("pk")
    overdue = (
        PaymentPlan.objects.filter(contract__in=unpaid, due_date__lt=today)
        .annotate(cumulative=cumulative)
        .annotate(remainder=remainder)
        .order_by()
    )
    aggregates = {}
    for key, first, last in AGEING_BUCKETS:
        condition = Q(remainder__gt=0, due_date__lte=today - timedelta(days=max(first, 1)))
        if last is not None:
            condition &= Q(due_date__gte=today - timedelta(days=last))
        aggregates[f"count_{key}"] = Count("pk", filter=condition)
        aggregates[f"amount_{key}"] = _sum("remainder", filter=condition)
    aggregates["total"] = _sum("remainder")
    figures = overdue.aggregate(**aggregates)
    buckets = [
        {"bucket": key, "count": figures[f"count_{key}"], "amount": money(figures[f"amount_{key}"])}
        for key, _first, _last in AGEING_BUCKETS
    ]
    return {"buckets": buckets, "overdue": money(figures["total"])}


def _summary_and_groups(contracts, key, limit=None):
    """(the summary over ``contracts``, its rows per ``key`` with money still to come, largest
    first, the first ``limit``) in one pass over the contracts: GROUP BY GROUPING SETS ((key), ()).
    As two statements they read a department's contracts twice (34,000 rows, about 100 ms each at
    1,000,000 contracts). Rows are not yet named (``_group`` names them)."""
    inner, params = contracts.order_by().values(key, "total", "paid_amount").query.sql_with_params()
    receivable = "sum(total - paid_amount)"
    sql = f"""
        SELECT {key}, GROUPING({key}), count(*), coalesce(sum(total), 0), coalesce(sum(paid_amount), 0),
               coalesce({receivable}, 0)
          FROM ({inner}) c
         GROUP BY GROUPING SETS (({key}), ())
        HAVING GROUPING({key}) = 1 OR {receivable} > 0
         ORDER BY GROUPING({key}) DESC, {receivable} DESC, {key}
    """
    if limit is not None:
        sql += " LIMIT %s"
        params = (*params, limit + 1)  # the summary's row comes first
    summary, rows = None, []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for value, whole, count, total, paid, owed in cursor.fetchall():
            row = {"contracts": count, "sum_total": total, "sum_paid": paid, "sum_receivable": owed}
            if whole:
                summary = _money_figures(row)
            else:
                rows.append({key: value, **row})
    return summary, rows


def receivables_report(*, contracts, group, today, limit=None):
    """The receivables report over ``contracts``: the summary (with the overdue total), the rows
    of ``group`` — "customer" (default; the first ``limit`` when given) or "owner"; none for
    "ageing" — and the overdue ageing buckets, always. Three to five queries: the ageing (two),
    the summary with the rows (and the rows' names)."""
    ageing = receivables_ageing(contracts=contracts, today=today)
    if group == "ageing":
        summary, rows = receivables_summary(contracts=contracts), []
    else:
        key, names = ("owner_id", _owner_names) if group == "owner" else ("customer_id", _customer_names)
        summary, grouped = _summary_and_groups(contracts, key, limit=None if group == "owner" else limit)
        rows = _named(grouped, key, names)
    return {
        "group": group,
        "summary": {**summary, "overdue": ageing["overdue"]},
        "rows": rows,
        "ageing": ageing["buckets"],
    }
