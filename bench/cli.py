"""`make bench` / `python -m bench`: build (or reuse) the bench database, start gunicorn, measure
every registered scenario and batch job, print a table and write JSON to bench/results/."""

import argparse
import json
import os
import platform
import random
import secrets
import shlex
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bench import database, measure, memory
from bench.registry import BATCH_JOBS, SCENARIOS, Selection

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE") or 1.0),
                        help="data size; 1 = 500,000 customers (default: $BENCH_SCALE or 1)")  # fmt: skip
    parser.add_argument("--rebuild", action="store_true", help="drop and reload the bench database")
    parser.add_argument("--only", nargs="*", default=[], help="scenarios/jobs: app, name or pattern (default: all)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario after warm-up")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for requests/s")
    parser.add_argument("--duration", type=float, default=20, help="seconds of the requests/s run (0: skip)")
    parser.add_argument("--sql-pages", type=int, default=40, help="pages whose SQL is captured and replayed")
    parser.add_argument("--time-limit", type=float, default=90, help="seconds at most per latency or SQL loop")
    parser.add_argument(
        "--database", default=database.DEFAULT_NAME, help="bench database (its name must contain 'bench')"
    )
    parser.add_argument("--template", help=argparse.SUPPRESS)  # tests: copy a migrated database
    parser.add_argument("--load-only", action="store_true", help="build or check the data, measure nothing")
    parser.add_argument("--list", action="store_true", help="list the registered scenarios and jobs")
    parser.add_argument("--output", help="JSON file (default: bench/results/bench-<time>.json)")
    return parser.parse_args(argv)


class Context:
    """What scenario functions get: the users per scope, memoised samples, plain SQL, counters."""

    def __init__(self, url, port):
        self.url = url
        self.port = port
        self.rng = random.Random("scenarios")
        self.state = {}
        self._memo = {}
        self._users = {}
        self._sequences = {}
        self._lock = threading.Lock()

    def user(self, scope):
        from bench.apps.staff import BENCH_USERS
        from staff.models import User

        if scope not in self._users:
            self._users[scope] = User.objects.select_related("department").get(username=BENCH_USERS[scope])
        return self._users[scope]

    def token(self, scope):
        from rest_framework_simplejwt.tokens import AccessToken

        return str(AccessToken.for_user(self.user(scope)))

    def memo(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def sequence(self, name):
        with self._lock:
            self._sequences[name] = self._sequences.get(name, 0) + 1
            return self._sequences[name]

    def sql(self, query, params=None):
        with database.connect(self.url) as conn:
            return conn.execute(query, params).fetchall()

    @contextmanager
    def replay_connection(self):
        # prepare_threshold=None: psycopg would otherwise prepare a statement from its fifth run
        # on and skip PostgreSQL's planning from then on, which Django pays on every request (its
        # connections have prepare_threshold None) — with seven joins, most of the statement's time.
        with database.connect(self.url, autocommit=True, prepare_threshold=None) as conn:
            yield conn


# --- building the data -------------------------------------------------------------------------


def build(url, scale, version, generators, template=None):
    import django.db
    from django.core.management import call_command
    from django.db import connection, transaction

    started = time.monotonic()
    phases = {}
    django.db.connections.close_all()
    database.recreate(url, template=template)
    call_command("migrate", interactive=False, verbosity=0)
    phases["migrate"] = round(time.monotonic() - started, 1)
    mark = time.monotonic()
    connection.ensure_connection()
    raw = connection.connection
    load = database.Load(raw, scale, log)
    generated = {}  # generator → seconds (within generate_and_copy)
    with transaction.atomic():
        raw.execute("SET LOCAL maintenance_work_mem = '512MB'")
        raw.execute("SET LOCAL synchronous_commit = off")
        for generator in generators:
            log(f"generator {generator.name}")
            began = time.monotonic()
            if generator.tables:
                load.drop_indexes(generator.tables)
            generator.func(load)
            generated[generator.name] = round(time.monotonic() - began, 1)
            log(f"  generator {generator.name}: {generated[generator.name]} s")
    phases["generate_and_copy"] = round(time.monotonic() - mark, 1)
    phases["generators"] = generated
    mark = time.monotonic()
    connection.set_autocommit(True)
    for table in load.pending_rewrites():
        raw.execute(f"VACUUM FULL {table}")
        log(f"  {table}: rewritten (VACUUM FULL)")
    load.restore_indexes_parallel(url)
    phases["indexes"] = round(time.monotonic() - mark, 1)
    mark = time.monotonic()
    raw.execute("VACUUM (ANALYZE)")
    phases["vacuum_analyze"] = round(time.monotonic() - mark, 1)
    seconds = round(time.monotonic() - started, 1)
    sizes = data_sizes(raw, load.rows)
    with transaction.atomic():
        database.write_marker(
            raw, scale=scale, version=version, load_seconds=seconds, sizes={**sizes, "phases": phases}
        )
    log(f"loaded in {seconds} s: {phases}")
    return database.read_marker(url)


def data_sizes(conn, loaded):
    rows = {}
    for table in sorted(loaded):
        rows[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    megabytes = conn.execute("SELECT pg_database_size(current_database()) / 1048576").fetchone()[0]
    return {"rows": rows, "database_mb": int(megabytes)}


# --- measuring ---------------------------------------------------------------------------------


def run_scenario(ctx, scenario, args):
    result = {"name": scenario.name, "title": scenario.title, "user": scenario.user, "kind": scenario.kind}
    if scenario.target:
        result["target_ms"] = list(scenario.target)
    if scenario.rps_target:
        result["target_rps"] = scenario.rps_target
    if scenario.note:
        result["note"] = scenario.note
    token = ctx.token(scenario.user)
    if scenario.optional:
        missing = measure.missing_endpoint(ctx, scenario, token=token)
        if missing:
            result["unavailable"] = missing
            result["verdict"] = "n/a"
            return result
    if scenario.setup:
        scenario.setup(ctx)
    try:
        result["latency"] = measure.latency(
            ctx, scenario, token=token, warmup=args.warmup, requests=args.requests, time_limit=args.time_limit
        )
        if scenario.throughput and args.duration > 0:
            result["throughput"] = measure.throughput(
                ctx, scenario, token=token, clients=args.clients, duration=args.duration, start_index=100_000
            )
        if scenario.kind == "read" and not scenario.replay_sql:
            result["sql_omitted"] = True
        elif scenario.kind == "read" and args.sql_pages > 0:
            result["sql"] = measure.plain_sql(
                ctx,
                scenario,
                token=token,
                pages=min(args.sql_pages, args.requests),
                replays=max(args.requests, 1),
                time_limit=args.time_limit,
            )
            if result["sql"]:
                result["ratio"] = round(result["latency"]["p50_ms"] / max(result["sql"]["p50_ms"], 0.01), 1)
    except measure.ScenarioError as error:
        result["error"] = str(error)
    finally:
        if scenario.cleanup:
            scenario.cleanup(ctx)
    result["verdict"] = verdict(result)
    return result


def verdict(result):
    if "error" in result:
        return "ERROR"
    misses = []
    if "target_ms" in result:
        p50, p95 = result["target_ms"]
        if result["latency"]["p50_ms"] > p50:
            misses.append("p50")
        if result["latency"]["p95_ms"] > p95:
            misses.append("p95")
    if "target_rps" in result and "throughput" in result:
        if result["throughput"]["rps"] < result["target_rps"]:
            misses.append("rps")
    if not ("target_ms" in result or "target_rps" in result):
        return "-"
    return "ok" if not misses else "MISS " + ",".join(misses)


def run_job(job, env):
    """The job in a child process: wall time and peak RSS — the child's own (VmHWM, see
    bench.memory: ru_maxrss would report at least the harness's size for every job)."""
    measured = memory.run_measured([sys.executable, "-m", "bench.job", job.name], env=env, cwd=ROOT)
    seconds = measured["seconds"]
    result = {
        "name": job.name,
        "title": job.title,
        "seconds": round(seconds, 2),
        "peak_rss_mb": measured["peak_rss_mb"],
        "exit": measured["exit"],
        "rolled_back": job.rollback,
    }
    if job.target:
        result["target"] = list(job.target)
        limit_s, limit_mb = job.target
        missed = (limit_s is not None and seconds > limit_s) or (
            limit_mb is not None and result["peak_rss_mb"] > limit_mb
        )
        result["verdict"] = "MISS" if missed else "ok"
    else:
        result["verdict"] = "-"
    if result["exit"] != 0:
        result["verdict"] = "ERROR"
    return result


# --- report ------------------------------------------------------------------------------------


def _fmt(value, digits=1):
    return "" if value is None else f"{value:.{digits}f}"


def table(report):
    lines = []
    header = (
        f"{'scenario':28} {'user':22} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'target':>9} {'rps':>7} "
        f"{'queries':>7} {'SQL p50':>8} {'API/SQL':>7}  verdict"
    )
    lines += [header, "-" * len(header)]
    for r in report["scenarios"]:
        if "unavailable" in r:
            lines.append(f"{r['name']:28} {r['user']:22} not available: {r['unavailable'][:80]}")
            continue
        if "error" in r and "latency" not in r:
            lines.append(f"{r['name']:28} {r['user']:22} ERROR {r['error'][:80]}")
            continue
        lat = r["latency"]
        target = "/".join(str(v) for v in r.get("target_ms", [])) or ""
        rps = r.get("throughput", {}).get("rps")
        if "target_rps" in r:
            target = f"{target} ≥{r['target_rps']:g}/s" if target else f"≥{r['target_rps']:g}/s"
        queries = (
            f"{lat['queries']:g}"
            if lat["queries_min"] == lat["queries_max"]
            else f"{lat['queries_min']}-{lat['queries_max']}"
        )
        sql_p50 = (r.get("sql") or {}).get("p50_ms")
        ratio = "omitted" if r.get("sql_omitted") else _fmt(r.get("ratio"))
        lines.append(
            f"{r['name']:28} {r['user']:22} {lat['n']:>4} {lat['p50_ms']:>8.1f} {lat['p95_ms']:>8.1f} {target:>9} "
            f"{_fmt(rps):>7} {queries:>7} {_fmt(sql_p50, 2):>8} {ratio:>7}  {r['verdict']}"
        )
    omitted = [r["name"] for r in report["scenarios"] if r.get("sql_omitted")]
    if omitted:
        lines += ["", f"API/SQL omitted (statements not replayed) for: {', '.join(omitted)}"]
    unavailable = [r["name"] for r in report["scenarios"] if "unavailable" in r]
    if unavailable:
        lines += [f"not available in this checkout (404), not measured: {', '.join(unavailable)}"]
    notes = [(r["name"], r["note"]) for r in report["scenarios"] if r.get("note") and "unavailable" not in r]
    for name, note in notes:
        lines.append(f"note {name}: {note}")
    slow = [(r["name"], r["sql"]["slowest"][0]) for r in report["scenarios"] if (r.get("sql") or {}).get("slowest")]
    if slow:
        lines += ["", "slowest statement of each read scenario (median ms through psycopg):"]
        for name, statement in slow:
            text = " ".join(statement["sql"].split())[:110]
            lines.append(f"  {name:28} #{statement['position']:<2} {statement['p50_ms']:7.2f}  {text}")
    if report["jobs"]:
        lines += ["", f"{'batch job':40} {'seconds':>8} {'peak RSS MB':>12} {'target':>12}  verdict"]
        for j in report["jobs"]:
            target = "/".join("-" if v is None else f"{v:g}" for v in j.get("target", [])) or ""
            lines.append(f"{j['name']:40} {j['seconds']:>8.2f} {j['peak_rss_mb']:>12.1f} {target:>12}  {j['verdict']}")
    return "\n".join(lines)


def load_average():
    """The machine's 1/5/15-minute load (other work on the machine skews every figure)."""
    try:
        return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def machine():
    info = {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return info


# --- main --------------------------------------------------------------------------------------


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    base_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    url = database.bench_url(base_url, args.database)
    secret = secrets.token_urlsafe(40)
    from bench.server import server_env

    env = server_env(os.environ, url, secret)
    os.environ.update(env)
    if not args.list and not args.template:
        # PostgreSQL and Redis up (started if installed and stopped), like `make run` does.
        subprocess.run([sys.executable, str(ROOT / "scripts" / "ensure_services.py")], env=env, check=True)

    import django

    django.setup()
    from bench import registry

    registry.discover()
    generators = registry.generator_order()
    selection = Selection(args.only)
    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name:32} {s.user:22} {s.title}")
        for j in BATCH_JOBS.values():
            print(f"{j.name:32} {'(batch job)':22} {j.title}")
        return 0

    version = database.schema_version(generators)
    marker = database.read_marker(url)
    reason = None
    if args.rebuild:
        reason = "--rebuild"
    elif marker is None:
        reason = "no data loaded yet"
    elif abs(marker["scale"] - args.scale) > 1e-9:
        reason = f"loaded at scale {marker['scale']:g}, asked for {args.scale:g}"
    elif marker["schema_version"] != version:
        reason = "migrations or generators changed"
    if reason:
        log(f"building {database.database_name(url)} at scale {args.scale:g} ({reason})")
        marker = build(url, args.scale, version, generators, template=args.template)
    else:
        log(
            f"reusing {database.database_name(url)}: scale {marker['scale']:g}, "
            f"loaded {marker['loaded_at']:%Y-%m-%d %H:%M}"
        )
    log(f"data: {json.dumps(marker['sizes']['rows'], ensure_ascii=False)}; {marker['sizes']['database_mb']} MB")
    if args.load_only:
        return 0

    from bench.server import Server

    report = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(
            shlex.quote(part) for part in ["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": machine(),
        "load_average_before": load_average(),
        "database": database.database_name(url),
        "scale": marker["scale"],
        "data": marker["sizes"],
        "load_seconds": marker["load_seconds"],
        "settings": {k: getattr(args, k) for k in ("requests", "warmup", "clients", "duration", "sql_pages")},
        "scenarios": [],
        "jobs": [],
    }
    with database.connect(url) as conn:
        report["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    scenarios = [s for s in SCENARIOS.values() if selection.wants(s.name)]
    jobs = [j for j in BATCH_JOBS.values() if selection.wants(j.name)]
    ctx = Context(url, port=None)
    probe = {"Authorization": f"Bearer {ctx.token('all')}"}
    with Server(env, log=log, probe_headers=probe) as server:
        ctx.port = server.port
        for scenario in scenarios:
            log(f"scenario {scenario.name} ({scenario.user})")
            result = run_scenario(ctx, scenario, args)
            report["scenarios"].append(result)
            if "error" in result:
                log(f"  ERROR {result['error']}")
    for job in jobs:
        log(f"batch job {job.name}")
        report["jobs"].append(run_job(job, env))
        if job.rollback:
            vacuumed = database.vacuum_dead_rows(url)
            log("  vacuumed what it rolled back: " + ", ".join(f"{table} {seconds} s" for table, seconds in vacuumed))
    report["load_average_after"] = load_average()
    output = Path(args.output) if args.output else RESULTS / f"bench-{datetime.now().astimezone():%Y%m%d-%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    print(table(report))
    print(f"\nload average before/after: {report['load_average_before']} / {report['load_average_after']}")
    print(f"{report['machine'].get('cores')} cores; scale {report['scale']:g}; data {report['data']['rows']}; "
          f"loaded in {report['load_seconds']} s; results: {output}")  # fmt: skip
    failed = [r for r in report["scenarios"] if r["verdict"] == "ERROR"] + [
        j for j in report["jobs"] if j["verdict"] == "ERROR"
    ]
    return 1 if failed else 0
