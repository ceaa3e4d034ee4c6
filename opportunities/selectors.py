"""Reads of deals. Every read starts from ``Opportunity.objects.visible_to(user)`` — lists, the
board's columns and totals, the funnel, the forecast, the customer's 360 page — so a figure
never counts a deal outside the user's scope. Aggregates are computed in SQL."""

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Count, DecimalField, F, Func, Max, Q, Sum, Value, Window
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from opportunities.models import (
    FUNNEL_KINDS,
    LostReason,
    Opportunity,
    Stage,
    StageGroup,
    StageHistory,
    StageKind,
)
from staff.scope import get_for_user

BOARD_PAGE_SIZE = 20
# True for a customer row aliased ``c`` with a deal in an open stage (the pool's recall registry).
OPEN_DEAL_SQL = (
    "EXISTS (SELECT 1 FROM opportunities_opportunity o JOIN opportunities_stage s ON s.id = o.stage_id"
    " WHERE o.customer_id = c.id AND s.kind = 'open')"
)
BOARD_MAX_PAGE_SIZE = 100
CENT = Decimal("0.01")
MONEY = DecimalField(max_digits=20, decimal_places=4)


def money(value):
    """A sum as yuan to the fen (half up), 0 for an empty sum."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def weighted_sum():
    """Σ amount × probability / 100, summed exactly in SQL (rounded to the fen by ``money``)."""
    return Coalesce(Sum(F("amount") * F("probability"), output_field=MONEY), Value(0), output_field=MONEY) / Value(
        100, output_field=MONEY
    )


# --- stage groups -------------------------------------------------------------------------------


def default_stage_group():
    return StageGroup.objects.filter(is_default=True).first() or StageGroup.objects.order_by("order", "id").first()


def stage_group_for(department):
    """The pipeline a department uses: the nearest group assigned to it or an ancestor, else the
    default one. One query."""
    if department is not None and department.path:
        ancestor_ids = [int(part) for part in department.path.strip("/").split("/") if part.isdigit()]
        rows = list(
            StageGroup.objects.filter(departments__in=ancestor_ids)
            .annotate(depth=Max("departments__depth", filter=Q(departments__in=ancestor_ids)))
            .order_by("-depth", "order", "id")[:1]
        )
        if rows:
            return rows[0]
    return default_stage_group()


def stage_groups():
    return StageGroup.objects.prefetch_related("stages", "departments")


def stages_of(group, *, kinds=None):
    stages = Stage.objects.filter(group=group).order_by("order", "id")
    if kinds is not None:
        stages = stages.filter(kind__in=kinds)
    return stages


def board_stages(group):
    """The board's columns: the open stages in order, then won, then lost (never invalid)."""
    stages = list(stages_of(group, kinds=[StageKind.OPEN, StageKind.WON, StageKind.LOST]))
    rank = {StageKind.OPEN: 0, StageKind.WON: 1, StageKind.LOST: 2}
    return sorted(stages, key=lambda stage: (rank[stage.kind], stage.order, stage.pk))


def lost_reasons():
    return LostReason.objects.filter(is_active=True)


# --- deals --------------------------------------------------------------------------------------


# What the pages show of a deal's lookups, joined; the API's rows need only the first three.
LIST_LOOKUPS = ("customer", "stage", "owner", "stage__group", "department", "source", "lost_reason")
API_LOOKUPS = LIST_LOOKUPS[:3]


def opportunity_list(*, user, lookups=LIST_LOOKUPS):
    """Deals ``user`` may see, ready for a list: ``lookups`` joined, a fixed number of queries.
    Join no more than the rows show: with all seven, PostgreSQL spent ~5 ms planning each page
    of a customer's deals (executing it: 0.3 ms); with the API's three, under 1 ms."""
    return Opportunity.objects.visible_to(user).select_related(*lookups)


def opportunity_get_for_user(*, user, pk):
    """One deal the user may see, or 404 — the same for missing and out of scope."""
    return get_for_user(opportunity_list(user=user), user=user, pk=pk)


def opportunity_editable(*, user, opportunity):
    return Opportunity.objects.editable_by(user).filter(pk=opportunity.pk).exists()


def stage_history(*, opportunity):
    return opportunity.stage_history.select_related("from_stage", "to_stage", "changed_by").order_by(
        "-changed_at", "-id"
    )


def customer_open_deals(*, user, customer):
    """The open deals of a customer, as far as ``user`` sees them (the 360 page)."""
    return (
        opportunity_list(user=user)
        .filter(customer=customer, stage__kind=StageKind.OPEN)
        .order_by("expected_close_date", "-id")
    )


def customer_timeline_entries(*, user, customer, limit=200):
    """Stage changes of the customer's deals (those the user sees) for the 360 timeline."""
    rows = (
        StageHistory.objects.filter(opportunity__in=Opportunity.objects.visible_to(user).filter(customer=customer))
        .select_related("opportunity", "from_stage", "to_stage", "changed_by")
        .order_by("-changed_at", "-id")[:limit]
    )
    entries = []
    for row in rows:
        if row.from_stage is None:
            text = f"{row.opportunity.title}：{row.to_stage.name}"
            title = _("新建商机")
        else:
            text = f"{row.opportunity.title}：{row.from_stage.name} → {row.to_stage.name}"
            title = _("商机阶段变更")
        entries.append(
            {
                "kind": "opportunity",
                "id": row.pk,
                "at": row.changed_at,
                "user": row.changed_by_id,
                "user_name": str(row.changed_by) if row.changed_by else "",
                "title": title,
                "text": text,
                "opportunity": row.opportunity_id,
                "from_stage": row.from_stage_id,
                "to_stage": row.to_stage_id,
            }
        )
    return entries


# --- the kanban board ---------------------------------------------------------------------------


def _cards(queryset):
    return queryset.select_related(None).select_related("customer", "owner", "stage").only(
        "id", "title", "amount", "probability", "expected_close_date", "version", "updated_at", "stage_id",
        "customer__id", "customer__name", "owner__id", "owner__display_name", "owner__username",
        "stage__id", "stage__kind", "stage__group_id",
    )  # fmt: skip


def encode_cursor(card):
    micros = int(
        (card.updated_at - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)) / datetime.timedelta(microseconds=1)
    )
    return f"{micros}.{card.pk}"


def decode_cursor(value):
    """(updated_at, id) of a board cursor, or None when it is malformed."""
    try:
        micros, pk = (int(part) for part in str(value).split("."))
        return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(microseconds=micros), pk
    except (TypeError, ValueError, OverflowError):
        return None


def column_totals(deals, stage_ids):
    """{stage id: {count, amount, weighted}} of the deals in these stages — one GROUP BY."""
    rows = (
        deals.filter(stage_id__in=stage_ids)
        .order_by()
        .values("stage_id")
        .annotate(count=Count("id"), weighted=weighted_sum(), total=Coalesce(Sum("amount"), Value(Decimal(0))))
    )
    totals = {pk: {"count": 0, "amount": money(0), "weighted": money(0)} for pk in stage_ids}
    for row in rows:
        totals[row["stage_id"]] = {
            "count": row["count"],
            "amount": money(row["total"]),
            "weighted": money(row["weighted"]),
        }
    return totals


def board(*, deals, group, page_size=BOARD_PAGE_SIZE):
    """The board of ``group`` over ``deals`` (the user's scoped, filtered deals): a column per
    open stage, then won and lost, each with its count, amount and weighted amount, the first
    ``page_size`` cards (most recently changed first) and a cursor for the next ones. Four
    queries, however many columns and cards: stages, totals, the cards' ids, the cards."""
    stages = board_stages(group)
    ids = [stage.pk for stage in stages]
    totals = column_totals(deals, ids)
    # The first cards of each column ranked on the deals alone, then fetched with their customer
    # and owner by id: joined before the ranking, every deal in scope (thousands) fetched its
    # customer's row to keep a hundred; as one statement (ids IN the ranking), the planner cannot
    # tell the ranking keeps so few and scans every deal.
    first = list(
        deals.filter(stage_id__in=ids)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("stage_id")], order_by=[F("updated_at").desc(), F("id").desc()])
        )
        .filter(rank__lte=page_size + 1)
        .values_list("pk", flat=True)
    )
    ranked = _cards(Opportunity.objects.filter(pk__in=first)).order_by("stage_id", "-updated_at", "-id")
    cards = {pk: [] for pk in ids}
    for card in ranked:
        cards[card.stage_id].append(card)
    columns = []
    for stage in stages:
        page = cards[stage.pk][:page_size]
        more = len(cards[stage.pk]) > page_size
        columns.append(
            {
                "stage": stage,
                **totals[stage.pk],
                "cards": page,
                "next": encode_cursor(page[-1]) if more else None,
            }
        )
    return columns


def board_column(*, deals, stage, after=None, page_size=BOARD_PAGE_SIZE):
    """One column's next cards after the cursor ``after`` (keyset on updated_at, id): one query."""
    queryset = _cards(deals.filter(stage=stage)).order_by("-updated_at", "-id")
    position = decode_cursor(after) if after else None
    if position is not None:
        updated_at, pk = position
        queryset = queryset.filter(Q(updated_at__lt=updated_at) | Q(updated_at=updated_at, id__lt=pk))
    rows = list(queryset[: page_size + 1])
    page = rows[:page_size]
    return {"cards": page, "next": encode_cursor(page[-1]) if len(rows) > page_size else None}


# --- funnel analysis ----------------------------------------------------------------------------


def _ratio(part, whole):
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _days(duration):
    if duration is None:
        return None
    if isinstance(duration, datetime.timedelta):
        duration = duration.total_seconds() / 86400
    return Decimal(str(duration)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def funnel(*, deals, group, details=True):
    """The funnel of ``group`` over ``deals`` (scoped and filtered by the caller).

    Per funnel stage (the open ones in order, then won):
    - ``count``/``amount``: deals that reached it — a deal reached every funnel stage up to the
      furthest one its stage history shows (skipping a stage on the way forward counts as
      reaching it; a deal lost in 报价 reached 线索, 商机 and 报价);
    - ``weighted_amount``: that amount × the stage's win probability;
    - ``average_amount``: amount / count;
    - ``conversion_rate``: the share of deals that reached this stage and later the next one;
    - ``average_days``: the mean length of the stays in the stage that have ended (from the
      stage history: entering it → the next change), open stays left out.
    Overall: ``win_rate`` = won / (won + lost), ``average_won_amount``, ``average_cycle_days``
    (created → won), and ``loss_reasons`` (count and amount per reason).
    ``details=False`` (a compact funnel, the workbench's): no ``average_days`` (None) and no
    ``loss_reasons`` ([]).

    One pass over the deals, whatever the details: the stages reached from
    ``furthest_stage_order``, the average days from ``stay_totals`` (both kept by triggers, see
    the fields), the loss reasons as a count and amount per reason — plus the stages and, with
    the details, the lost reasons (small tables). Three passes before (200,000 deals, a year:
    ~300 → ~150 ms; the stays were read from the stage history)."""
    stages = list(stages_of(group, kinds=FUNNEL_KINDS))
    deals = deals.filter(stage__group=group)
    reasons = list(LostReason.objects.order_by("name", "id").values_list("pk", "name")) if details else []
    lost = Q(stage__kind=StageKind.LOST)
    figures = deals.aggregate(
        **_reached(stages),
        **(_average_days_sums(stages) if details else {}),
        **(_loss_sums(reasons, lost) if details else {}),
        won=Count("id", filter=Q(stage__kind=StageKind.WON)),
        lost=Count("id", filter=lost),
        average_won_amount=Avg("amount", filter=Q(stage__kind=StageKind.WON)),
        average_cycle=Avg(F("won_at") - F("created_at"), filter=Q(stage__kind=StageKind.WON, won_at__isnull=False)),
    )
    rows = []
    for index, stage in enumerate(stages):
        count, amount = figures[f"c{stage.pk}"], money(figures[f"a{stage.pk}"])
        following = stages[index + 1] if index + 1 < len(stages) else None
        rows.append(
            {
                "stage": stage,
                "count": count,
                "amount": amount,
                "weighted_amount": money(amount * stage.probability / 100),
                "average_amount": money(amount / count) if count else None,
                "conversion_rate": _ratio(figures[f"c{following.pk}"], count) if following else None,
                "average_days": _days(figures.get(f"d{stage.pk}")) if stage.kind == StageKind.OPEN else None,
            }
        )
    overall = figures
    return {
        "stages": rows,
        "won": overall["won"],
        "lost": overall["lost"],
        "win_rate": _ratio(overall["won"], overall["won"] + overall["lost"]),
        "average_won_amount": money(overall["average_won_amount"]) if overall["won"] else None,
        "average_cycle_days": _days(overall["average_cycle"]),
        "loss_reasons": _loss_rows(reasons, figures) if details else [],
    }


def _reached(stages):
    """Count and amount of the deals that reached each stage: their furthest funnel stage in the
    history (kept on the deal, see the field) is this one or further."""
    reached = {}
    for stage in stages:
        hit = Q(furthest_stage_order__gte=stage.order)
        reached[f"c{stage.pk}"] = Count("id", filter=hit)
        reached[f"a{stage.pk}"] = Coalesce(Sum("amount", filter=hit), Value(Decimal(0)))
    return reached


def _stay_total(stage, index, cast):
    """Σ microseconds (``index`` 0) or the number (1) of a deal's ended stays in ``stage``, from
    ``stay_totals`` (NULL: none). The key is written into the SQL — an int, so safe — because
    Django's ``KeyTransform`` takes a digit string for an array index."""
    return Func(
        F("stay_totals"),
        template=f"((%(expressions)s -> '{int(stage.pk)}' ->> {int(index)})::{cast})",
        output_field=DecimalField(),
    )


def _average_days_sums(stages):
    """The mean days of the ended stays in each open stage of these deals' histories, from the
    deals' ``stay_totals``: Σ microseconds × 0.000001 is exactly the numeric Σ of the stays'
    ``EXTRACT(EPOCH …)`` (scale 6), divided by Σ stays in SQL as ``AVG`` did over the history
    rows (``numeric_avg``), then by 86400 — the old figure to the last digit."""
    return {
        f"d{stage.pk}": Func(
            Sum(_stay_total(stage, 0, "bigint")),
            Sum(_stay_total(stage, 1, "int")),
            arg_joiner=" * 0.000001 / ",
            template="(%(expressions)s::numeric / 86400.0)",
            output_field=DecimalField(),
        )
        for stage in stages
        if stage.kind == StageKind.OPEN
    }


def _loss_sums(reasons, lost):
    """Count and amount of the lost deals per lost reason (``r<id>``) and without one (``rnone``)."""
    sums = {}
    for key, reason in [*((f"r{pk}", Q(lost_reason_id=pk)) for pk, _name in reasons), ("rnone", Q(lost_reason=None))]:
        sums[f"{key}_count"] = Count("id", filter=reason & lost)
        sums[f"{key}_amount"] = Coalesce(Sum("amount", filter=reason & lost), Value(Decimal(0)))
    return sums


def _loss_rows(reasons, figures):
    """``loss_reasons``' rows from ``_loss_sums``' figures, in its order: count, amount (both
    descending), then name as PostgreSQL orders it (``reasons`` come in that order; no reason,
    a NULL name, last)."""
    rows = []
    for rank, (pk, name) in enumerate([*reasons, (None, None)]):
        key = f"r{pk}" if pk is not None else "rnone"
        count = figures[f"{key}_count"]
        if count:
            amount = money(figures[f"{key}_amount"])
            rows.append((-count, -amount, rank, {"reason": pk, "name": name or "", "count": count, "amount": amount}))
    return [row for *_key, row in sorted(rows, key=lambda row: row[:3])]


def loss_reasons(*, deals):
    """The lost ones among ``deals`` (scoped and filtered by the caller) per lost reason: count and
    amount, most frequent first — one GROUP BY (the funnel's loss reasons; 赢单/输单 reuses it)."""
    losses = (
        deals.filter(stage__kind=StageKind.LOST)
        .order_by()
        .values("lost_reason_id", "lost_reason__name")
        .annotate(count=Count("id"), amount=Coalesce(Sum("amount"), Value(Decimal(0))))
        .order_by("-count", "-amount", "lost_reason__name")
    )
    return [
        {
            "reason": row["lost_reason_id"],
            "name": row["lost_reason__name"] or "",
            "count": row["count"],
            "amount": money(row["amount"]),
        }
        for row in losses
    ]


# --- forecast -----------------------------------------------------------------------------------


def forecast(*, deals):
    """The open pipeline by expected close month: count, amount and weighted amount (amount ×
    the deal's probability) per month, deals without a date last (``month`` None). One GROUP BY."""
    rows = (
        deals.filter(stage__kind=StageKind.OPEN)
        .annotate(month=TruncMonth("expected_close_date"))
        .order_by()
        .values("month")
        .annotate(count=Count("id"), weighted=weighted_sum(), total=Coalesce(Sum("amount"), Value(Decimal(0))))
        .order_by(F("month").asc(nulls_last=True))
    )
    rows = list(rows)
    months = [
        {
            "month": row["month"].strftime("%Y-%m") if row["month"] else None,
            "count": row["count"],
            "amount": money(row["total"]),
            "weighted_amount": money(row["weighted"]),
        }
        for row in rows
    ]
    return {
        "months": months,
        "count": sum(row["count"] for row in rows),
        # Totals of the exact sums, rounded once.
        "amount": money(sum((row["total"] for row in rows), Decimal(0))),
        "weighted_amount": money(sum((row["weighted"] for row in rows), Decimal(0))),
    }


def today():
    return timezone.localdate()
