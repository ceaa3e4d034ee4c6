"""What the benchmark loads and measures, registered per app in ``bench/apps/<app>.py`` (every
module there is imported; order between generators comes from ``after``).

A generator fills its app's tables at a scale (1.0 = the sizes the product promises)::

    @generator("deals", after=["customers"], tables=["deals_deal", "deals_stagechange"])
    def deals(load):
        customer_ids = load.ids("customers_customer")
        load.copy("deals_deal", ["id", "customer_id", ...], rows(load.count(200_000)))

``tables``: the tables it bulk-loads; their secondary indexes and foreign keys are dropped for the
load and rebuilt once after it (bump ``version`` when the data changes: the database is rebuilt).

A scenario is requests through the real stack (gunicorn, bearer token of one data scope); the
function gets the context and the iteration number and returns the request(s) of one iteration
(several: one page that needs several API calls, timed together)::

    @scenario("deals.kanban", "kanban board, department-scoped", user="department", target=(100, 200))
    def kanban(ctx, i):
        return get("/api/v1/deals/board/")

``optional=True``: the endpoint may not exist in this checkout yet (an app still being built); a
404 on the first iteration reports the scenario "not available" rather than an error.
``replay_sql=False``: no API / SQL ratio (said so in the table).

A batch job runs in a child process (wall time, peak RSS); ``rollback=True`` undoes its writes::

    @batch_job("profiles.recompute", "profile recompute, all customers", target=(60, 2048))
    def recompute():
        from profiles.services import recompute_all
        recompute_all()
"""

import importlib
import pkgutil
from dataclasses import dataclass, field
from fnmatch import fnmatch

GENERATORS = {}
SCENARIOS = {}
BATCH_JOBS = {}

# The users scenarios run as, by data scope (made by the staff generator; see bench/apps/staff.py).
SCOPES = ("all", "department_tree", "department", "self_and_subordinates", "self")


@dataclass
class Generator:
    name: str
    func: object
    after: tuple = ()
    tables: tuple = ()
    version: int = 1


@dataclass
class Request:
    method: str
    path: str
    body: object = None


def get(path, params=None):
    from urllib.parse import urlencode

    return Request("GET", f"{path}?{urlencode(params, doseq=True)}" if params else path)


def post(path, body):
    return Request("POST", path, body)


@dataclass
class Scenario:
    name: str
    title: str
    func: object
    user: str
    target: tuple = None  # (p50 ms, p95 ms)
    rps_target: float = None
    kind: str = "read"  # "read": also timed as plain SQL; "write": not
    throughput: bool = True  # requests/s with concurrent clients
    ok_status: tuple = (200,)
    setup: object = None  # setup(ctx) before the scenario
    cleanup: object = None  # cleanup(ctx) after it (undo what writes created)
    # An endpoint that may not exist in this checkout yet: a 404 on the first iteration reports
    # the scenario "not available" instead of an error.
    optional: bool = False
    # Reads: re-run the captured statements through psycopg for the API / SQL ratio (off where a
    # page's statements alone are not the page: cached aggregates, many small report queries).
    replay_sql: bool = True
    note: str = ""  # printed under the table
    app: str = ""


@dataclass
class BatchJob:
    name: str
    title: str
    func: object
    target: tuple = None  # (seconds, peak RSS MB); either may be None
    rollback: bool = False
    app: str = ""


def _app_of(name):
    return name.split(".", 1)[0]


def generator(name, *, after=(), tables=(), version=1):
    def register(func):
        GENERATORS[name] = Generator(name, func, tuple(after), tuple(tables), version)
        return func

    return register


def scenario(name, title, *, user, target=None, rps_target=None, kind="read", throughput=True, **options):
    if user not in SCOPES:
        raise ValueError(f"unknown scope {user!r}; one of {SCOPES}")

    def register(func):
        SCENARIOS[name] = Scenario(
            name, title, func, user, target, rps_target, kind, throughput, app=_app_of(name), **options
        )
        return func

    return register


def batch_job(name, title, *, target=None, rollback=False):
    def register(func):
        BATCH_JOBS[name] = BatchJob(name, title, func, target, rollback, app=_app_of(name))
        return func

    return register


def discover():
    """Import every module of bench/apps (each registers its app's generators and scenarios)."""
    import bench.apps

    for module in pkgutil.iter_modules(bench.apps.__path__):
        importlib.import_module(f"bench.apps.{module.name}")


def generator_order():
    """Generators with every ``after`` before them (a missing dependency is an error)."""
    ordered, seen = [], set()

    def visit(name, chain=()):
        if name in seen:
            return
        if name in chain:
            raise ValueError(f"generator cycle: {' → '.join((*chain, name))}")
        if name not in GENERATORS:
            raise ValueError(f"generator {chain[-1]!r} runs after unknown {name!r}")
        for dependency in GENERATORS[name].after:
            visit(dependency, (*chain, name))
        seen.add(name)
        ordered.append(GENERATORS[name])

    for name in sorted(GENERATORS):
        visit(name)
    return ordered


@dataclass
class Selection:
    """Which scenarios and jobs a run measures: ``--only`` patterns (``customers`` — an app,
    ``customers.search.*``, ``customers.list`` — one scenario); none: all."""

    patterns: list = field(default_factory=list)

    def wants(self, name):
        return not self.patterns or any(
            fnmatch(name, pattern) or ("." not in pattern and fnmatch(name, f"{pattern}.*"))
            for pattern in self.patterns
        )
