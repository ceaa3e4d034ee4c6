"""The reports (issue 9) and the workbench, for a department-scoped manager, on the loaded
customers, follow-ups, deals, contracts and payments. No generator: they read the other apps' data.

The API is fixed by issue 9: ``GET /api/v1/reports/<key>/?period=month`` (also ``day``, ``week``,
``quarter``, ``custom`` with ``start`` / ``end``; ``department=<id>``, ``owner=<id>``),
``GET /api/v1/reports/receivables/`` and ``GET /api/v1/workbench/``. Until those land, a scenario
whose route answers 404 is reported "not available" (``optional``), so the harness runs before and
after the merge. Targets (issue 10): each report p50 ≤ 250 ms / p95 ≤ 500 ms, the workbench ≤ 150 /
≤ 300 ms. No API / SQL ratio (``replay_sql=False``): a report is several aggregates, possibly
cached, and its statements replayed alone would not be the page."""

from datetime import timedelta

from bench.apps.contracts import TODAY
from bench.registry import get, scenario

REPORTS = "/api/v1/reports/"
KEYS = (
    "sales_trend",
    "customer_growth",
    "product_ranking",
    "distribution",
    "follow_ups",
    "customer_value",
    "churn",
    "funnel",
    "win_loss",
    "ranking",
)
REPORT_TARGET = (250, 500)
WORKBENCH_TARGET = (150, 300)


def _report(key):
    def request(ctx, i):
        return get(f"{REPORTS}{key}/", {"period": "month"})

    return request


for _key in KEYS:
    scenario(
        f"reports.{_key}",
        f"report {_key}, this month, department-scoped manager",
        user="department",
        target=REPORT_TARGET,
        optional=True,
        replay_sql=False,
    )(_report(_key))


def _department_and_owner(ctx):
    """The manager's department and a rep in it (the report filters a manager would pick)."""

    def pick():
        from staff.models import User

        manager = ctx.user("department")
        owners = list(
            User.objects.filter(department_id=manager.department_id, is_active=True)
            .exclude(pk=manager.pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        return manager.department_id, owners[0] if owners else manager.pk

    return ctx.memo("reports.department_and_owner", pick)


@scenario(
    "reports.mixed",
    "every report in turn: day / week / quarter / custom ranges, department or owner filter",
    user="department",
    target=REPORT_TARGET,
    optional=True,
    replay_sql=False,
    note="custom ranges differ on every request (no cached answer to reuse)",
)
def mixed(ctx, i):
    """The reports in rotation over the other periods, each custom range a different one, so a
    cache of finished answers cannot serve the whole loop; every third request narrows to the
    manager's department, every fifth to one rep."""
    key = KEYS[i % len(KEYS)]
    period = ("day", "week", "quarter", "custom")[(i // len(KEYS)) % 4]
    params = {"period": period}
    if period == "custom":
        end = TODAY - timedelta(days=i % 29)
        params.update(start=(end - timedelta(days=30 + (i * 7) % 700)).isoformat(), end=end.isoformat())
    department, owner = _department_and_owner(ctx)
    if i % 3 == 0:
        params["department"] = department
    if i % 5 == 0:
        params["owner"] = owner
    return get(f"{REPORTS}{key}/", params)


@scenario(
    "reports.receivables",
    "receivables report (by customer), department-scoped manager",
    user="department",
    target=REPORT_TARGET,
    optional=True,
)
def receivables(ctx, i):
    return get(f"{REPORTS}receivables/")


@scenario(
    "workbench.home",
    "workbench (工作台) data, department-scoped manager",
    user="department",
    target=WORKBENCH_TARGET,
    optional=True,
    replay_sql=False,
)
def workbench(ctx, i):
    return get("/api/v1/workbench/")
