"""The workbench's figures (工作台): one function per tile and ``workbench_figures`` for all of them.

Every tile is a count or sum in SQL over a list another app owns, read through that app's own
selector (so through ``visible_to(user)``) and, where the list has one, its own FilterSet fed with
exactly the parameters of the tile's link — so the tile's number and the rows of the list it links
to are the same rows by construction (and ``workbench/tests`` checks it). A tile is left out when
the user may not open its list. Each tile answers a dict: ``count`` (and ``amount``,
``weighted_amount``, ``capped``, … where it has them) and ``url``, the filtered list.

"Today" and "this month" are the company's calendar (Asia/Shanghai, the project's time zone).
"""

import calendar
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

from django.db.models import Count, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from activities import selectors as activity_selectors
from approvals import selectors as approval_selectors
from contracts.api.payments import PaymentFilterSet
from contracts.models import SALES_STATUSES
from contracts.selectors import contracts as contract_selectors
from contracts.selectors import payments as payment_selectors
from customers import selectors as customer_selectors
from customers.filters import CustomerFilterSet
from notifications import selectors as notification_selectors
from opportunities import selectors as opportunity_selectors
from opportunities.filters import OpportunityFilterSet, ReportFilterSet
from opportunities.models import StageKind
from pool import selectors as pool_selectors
from staff.fieldperms import hidden_fields
from staff.models import DataScope
from staff.scope import effective_scope

ZERO = Value(Decimal(0))


def _url(name, params=None):
    url = reverse(name)
    return f"{url}?{urlencode(params, doseq=True)}" if params else url


def _filtered(filterset_class, *, user, queryset, params, **kwargs):
    """``queryset`` narrowed by the list's own FilterSet with the link's parameters."""
    filterset = filterset_class(data=params, queryset=queryset, request=SimpleNamespace(user=user), **kwargs)
    if not filterset.is_valid():  # our own parameters: a failure here is a bug, not bad input
        raise ValueError(f"{filterset_class.__name__}: {dict(filterset.errors)}")
    return filterset.qs


def _today(now=None):
    return timezone.localdate(now or timezone.now())


def month_range(now=None):
    """(first day, last day) of the current month, Asia/Shanghai."""
    today = _today(now)
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def is_manager(user):
    """Whether ``user`` sees more than their own records (a data scope wider than "self"): they
    get the team's figures, which are the same figures over their whole scope."""
    return effective_scope(user) not in (None, DataScope.SELF)


# --- my tiles -------------------------------------------------------------------------------------


def my_tasks(*, user, now=None):
    """My open tasks overdue and due later today: the 待办 page's first two sections."""
    if not user.has_perm("activities.view_task"):
        return None
    counts = activity_selectors.task_board_counts(user=user, now=now)
    return {
        "count": counts["overdue"] + counts["today"],
        "overdue": counts["overdue"],
        "today": counts["today"],
        "url": _url("activities:todo"),
    }


def follow_ups_due(*, user, team=False):
    """Customers whose next follow-up (下次联系) is today or overdue — mine, or with ``team`` all
    those in my scope: the customer list's "今日需联系" view. Capped like that list's count. Left
    out when a field it filters on is hidden from the user (the list would ignore the filter)."""
    if not user.has_perm("customers.view_customer"):
        return None
    params = {"view": "today"} if team else {"view": "today", "owner": [user.pk]}
    if hidden_fields(user, "customer") & {"next_follow_up_at", "owner"}:
        return None
    rows = _filtered(CustomerFilterSet, user=user, queryset=customer_selectors.customer_list(user=user), params=params)
    count, capped = customer_selectors.customer_capped_count(rows, user=user)
    return {"count": count, "capped": capped, "url": _url("customers:list", params)}


def pool_returning(*, user, now=None):
    """My customers going back to the public pool within the warning lead (待进入公海)."""
    if not user.has_perm("customers.view_customer"):
        return None
    return {"count": pool_selectors.returning_soon_count(user=user, now=now), "url": _url("pool:returning")}


def approvals_pending(*, user):
    """Approval tasks waiting for me (待我审批)."""
    return {"count": approval_selectors.approval_pending_count(user=user), "url": _url("approvals:inbox")}


def pipeline(*, user, team=False):
    """Open deals — mine, or with ``team`` all in my scope: count, amount, and the weighted amount
    (amount × the deal's win probability)."""
    if not user.has_perm("opportunities.view_opportunity"):
        return None
    params = {"kind": StageKind.OPEN.value}
    if not team:
        params["owner"] = [user.pk]
    deals = _filtered(
        OpportunityFilterSet,
        user=user,
        queryset=opportunity_selectors.opportunity_list(user=user),
        params=params,
    )
    figures = deals.order_by().aggregate(
        count=Count("pk"),
        total=Coalesce(Sum("amount"), ZERO),  # not "amount": weighted_sum's F("amount") would read it
        weighted=opportunity_selectors.weighted_sum(),
    )
    return {
        "count": figures["count"],
        "amount": opportunity_selectors.money(figures["total"]),
        "weighted_amount": opportunity_selectors.money(figures["weighted"]),
        "url": _url("opportunities:list", params),
    }


def contracts_month(*, user, team=False, now=None):
    """Contracts counting as sales (approved or later) signed this month — mine, or my scope's:
    how many and their total."""
    if not user.has_perm("contracts.view_contract"):
        return None
    first, last = month_range(now)
    params = {
        "status": [str(status) for status in SALES_STATUSES],
        "signed_after": first.isoformat(),
        "signed_before": last.isoformat(),
    }
    if not team:
        params["owner"] = [user.pk]
    contracts = contract_selectors.contract_list(user=user, filters=params)
    figures = contracts.order_by().aggregate(count=Count("pk"), amount=Coalesce(Sum("total"), ZERO))
    return {
        "count": figures["count"],
        "amount": payment_selectors.money(figures["amount"]),
        "url": _url("contracts:list", params),
    }


def payments_month(*, user, team=False, now=None):
    """Confirmed payments (回款) dated this month — of my contracts, or my scope's."""
    if not user.has_perm("contracts.view_payment"):
        return None
    first, last = month_range(now)
    params = {"confirmed": "true", "date_after": first.isoformat(), "date_before": last.isoformat()}
    if not team:
        params["owner"] = user.pk
    payments = _filtered(PaymentFilterSet, user=user, queryset=payment_selectors.payment_list(user=user), params=params)
    figures = payments.order_by().aggregate(count=Count("pk"), total=Coalesce(Sum("amount"), ZERO))
    return {
        "count": figures["count"],
        "amount": payment_selectors.money(figures["total"]),
        "url": _url("payments:list", params),
    }


def notifications_unread(*, user):
    return {"count": notification_selectors.unread_count(user=user), "url": _url("notifications:inbox", {"unread": 1})}


# --- the team's funnel ------------------------------------------------------------------------------


def team_funnel(*, user, now=None):
    """The funnel of the deals in my scope created this year, in my department's pipeline — the
    销售漏斗 page with the same period (a compact version of it)."""
    if not user.has_perm("opportunities.view_opportunity"):
        return None
    today = _today(now)
    params = {"period_after": today.replace(month=1, day=1).isoformat(), "period_before": today.isoformat()}
    base = opportunity_selectors.opportunity_list(user=user).order_by()
    deals = _filtered(ReportFilterSet, user=user, queryset=base, params=params, period_field="created_at")
    group = opportunity_selectors.stage_group_for(user.department)
    if group is None:
        return None
    result = opportunity_selectors.funnel(deals=deals, group=group, details=False)
    return {
        "group": group.name,
        "stages": [
            {
                "name": row["stage"].name,
                "count": row["count"],
                "amount": row["amount"],
                "weighted_amount": row["weighted_amount"],
                "conversion_rate": row["conversion_rate"],
            }
            for row in result["stages"]
        ],
        "won": result["won"],
        "lost": result["lost"],
        "win_rate": result["win_rate"],
        "url": _url("opportunities:funnel", params),
    }


# --- everything -------------------------------------------------------------------------------------


def _present(tiles):
    return {key: value for key, value in tiles.items() if value is not None}


def workbench_figures(*, user, now=None):
    """Every tile of ``user``'s workbench: ``mine``, and for a manager ``team`` (the same figures
    over their whole data scope, plus the funnel; None for others). A bounded number of queries
    whatever the data size — each figure one aggregate."""
    now = now or timezone.now()
    mine = _present(
        {
            "tasks": my_tasks(user=user, now=now),
            "follow_ups_due": follow_ups_due(user=user),
            "pool_returning": pool_returning(user=user, now=now),
            "approvals": approvals_pending(user=user),
            "pipeline": pipeline(user=user),
            "contracts_month": contracts_month(user=user, now=now),
            "payments_month": payments_month(user=user, now=now),
            "notifications": notifications_unread(user=user),
        }
    )
    team = None
    if is_manager(user):
        team = _present(
            {
                "follow_ups_due": follow_ups_due(user=user, team=True),
                "pipeline": pipeline(user=user, team=True),
                "contracts_month": contracts_month(user=user, team=True, now=now),
                "payments_month": payments_month(user=user, team=True, now=now),
                "funnel": team_funnel(user=user, now=now),
            }
        )
    first, _last = month_range(now)
    return {
        "today": _today(now),
        "month": first.strftime("%Y-%m"),
        "scope": effective_scope(user),
        "is_manager": team is not None,
        "mine": mine,
        "team": team,
    }
