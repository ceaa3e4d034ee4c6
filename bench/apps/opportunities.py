"""Deals: 200,000 opportunities on the loaded customers over three years, each with the stage
history a real pipeline leaves (created in 线索 or 商机, moved forward a stage or two at a time,
then won, lost, invalid or still open); and the kanban board and funnel scenarios."""

import random
from datetime import timedelta
from decimal import Decimal

from bench.apps.customers import CUSTOMER_360, NOW
from bench.registry import generator, get, scenario

DEALS = 200_000
TITLES = [
    "ERP 升级", "CRM 实施", "年度采购", "设备更新", "办公用品框架协议", "云服务器续费", "数据中台", "安防改造",
    "培训服务", "物流外包", "仓储系统", "营销推广", "门店装修", "原材料供应", "软件授权", "运维服务",
]  # fmt: skip
# How deals end: (share, kind of the last stage). The rest stay open.
OUTCOMES = [(0.25, "won"), (0.25, "lost"), (0.05, "invalid")]


def _stages(load):
    from opportunities.services import stage_group_ensure_default

    # The data migration's pipeline — made again if a test flushed it (the harness test's template).
    stage_group_ensure_default()
    rows = load.execute(
        'SELECT s.id, s.code, s.kind, s.probability, s."order" FROM opportunities_stage s '
        'JOIN opportunities_stagegroup g ON g.id = s.group_id WHERE g.is_default ORDER BY s."order", s.id'
    ).fetchall()
    open_stages = [row for row in rows if row[2] == "open"]
    closing = {kind: next(row for row in rows if row[2] == kind) for kind in ("won", "lost", "invalid")}
    return open_stages, closing


@generator(
    "opportunities",
    after=["customers"],
    tables=["opportunities_opportunity", "opportunities_stagehistory"],
    version=2,
)
def opportunities(load):
    rng = random.Random("opportunities")
    open_stages, closing = _stages(load)
    lost_reasons = load.ids("opportunities_lostreason")
    customers = load.execute(
        "SELECT id, owner_id, department_id FROM customers_customer WHERE owner_id IS NOT NULL AND deleted_at IS NULL"
    ).fetchall()
    count = load.count(DEALS)
    deals, history = [], []
    history_id = 0
    for deal_id in range(1, count + 1):
        customer_id, owner_id, department_id = customers[rng.randrange(len(customers))]
        created = NOW - timedelta(days=rng.uniform(1, 3 * 365), minutes=rng.randrange(600))
        # Entered in 线索 (70%) or 商机; forward one stage at a time, now and then skipping one.
        position = 0 if rng.random() < 0.7 else 1
        stage = open_stages[position]
        at = created
        first_history = history_id + 1
        history_id += 1
        history.append([history_id, at, owner_id, None, deal_id, stage[0], None])
        roll, outcome, threshold = rng.random(), None, 0.0
        for share, kind in OUTCOMES:
            threshold += share
            if roll < threshold:
                outcome = kind
                break
        last_open = len(open_stages) - 1 if outcome == "won" else rng.randrange(position, len(open_stages))
        while position < last_open:
            position = min(last_open, position + (2 if rng.random() < 0.1 else 1))
            previous, stage = stage, open_stages[position]
            at = min(at + timedelta(days=rng.uniform(2, 40)), NOW)
            history_id += 1
            history[-1][6] = at  # left_at: when the next change came
            history.append([history_id, at, owner_id, previous[0], deal_id, stage[0], None])
        # The furthest funnel stage reached (Opportunity.furthest_stage_order): the last open one, or won.
        furthest = closing["won"][4] if outcome == "won" else stage[4]
        won_at = lost_at = lost_reason = None
        if outcome is not None:
            previous, stage = stage, closing[outcome]
            at = min(at + timedelta(days=rng.uniform(2, 40)), NOW)
            history_id += 1
            history[-1][6] = at
            history.append([history_id, at, owner_id, previous[0], deal_id, stage[0], None])
            won_at = at if outcome == "won" else None
            if outcome == "lost":
                lost_at, lost_reason = at, rng.choice(lost_reasons) if lost_reasons else None
        amount = Decimal(rng.randrange(100_000, 200_000_000)) / 100
        # The ended stays per stage (Opportunity.stay_totals): {to_stage_id: [µs, stays]}.
        stays = {}
        for row in history[first_history - 1 : -1]:
            micros = (row[6] - row[1]) // timedelta(microseconds=1)
            total = stays.setdefault(str(row[5]), [0, 0])
            total[0] += micros
            total[1] += 1
        deals.append(
            (
                deal_id, created, at, f"{rng.choice(TITLES)}项目", amount, stage[3],
                (created + timedelta(days=rng.randrange(30, 240))).date(), "", won_at, lost_at, "",
                history_id - first_history + 1, owner_id, customer_id, department_id, lost_reason,
                owner_id, None, stage[0], furthest, stays or None,
            )
        )  # fmt: skip
    columns = [
        "id", "created_at", "updated_at", "title", "amount", "probability", "expected_close_date", "lost_note",
        "won_at", "lost_at", "remark", "version", "created_by_id", "customer_id", "department_id",
        "lost_reason_id", "owner_id", "source_id", "stage_id", "furthest_stage_order", "stay_totals",
    ]  # fmt: skip
    load.copy("opportunities_opportunity", columns, deals)
    # The rows carry their derived columns already (the deal's furthest stage and ended stays, each
    # stay's end): the history's insert trigger (which would work them out again in three UPDATEs
    # over every deal) is off for the load.
    load.execute("ALTER TABLE opportunities_stagehistory DISABLE TRIGGER opportunity_history_insert")
    load.copy(
        "opportunities_stagehistory",
        ["id", "changed_at", "changed_by_id", "from_stage_id", "opportunity_id", "to_stage_id", "left_at"],
        history,
    )
    load.execute("ALTER TABLE opportunities_stagehistory ENABLE TRIGGER opportunity_history_insert")
    load.reset_sequence("opportunities_opportunity")
    load.reset_sequence("opportunities_stagehistory")


BOARD = "/api/v1/opportunities/board/"
FUNNEL = "/api/v1/reports/funnel/"


@scenario("opportunities.board", "kanban board, department-scoped", user="department", target=(100, 200))
def board(ctx, i):
    return get(BOARD)


@scenario("opportunities.funnel", "funnel report, whole company, one year", user="all", target=(150, 300))
def funnel(ctx, i):
    today = NOW.date()
    return get(FUNNEL, {"period_after": (today - timedelta(days=365)).isoformat(), "period_before": today.isoformat()})


# The customer 360 page: the customer's deals.
CUSTOMER_360.append(lambda customer_id: get("/api/v1/opportunities/", {"customer": customer_id, "page_size": 20}))
