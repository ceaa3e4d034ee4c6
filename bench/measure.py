"""Measurement of one scenario through HTTP: latency of sequential requests after warm-up,
requests/s with concurrent clients, SQL statements per request, and the same statements timed
through plain psycopg. Every loop is bounded in count and in time."""

import itertools
import json
import math
import secrets
import statistics
import threading
import time
from http.client import HTTPConnection

from bench.middleware import capture_path
from bench.registry import Request


class Client:
    """One HTTP client (one thread). gunicorn's sync workers close each connection after the
    response, so every request opens one — as any client of the real deployment does."""

    def __init__(self, port, token):
        self.connection = HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def send(self, request: Request, capture=False):
        headers = dict(self.headers)
        body = None
        if request.body is not None:
            body = json.dumps(request.body).encode()
            headers["Content-Type"] = "application/json"
        path = None
        if capture:
            token = secrets.token_hex(16)
            path = capture_path(token)
            headers["X-Bench-Capture"] = token
        start = time.perf_counter()
        try:
            self.connection.request(request.method, request.path, body=body, headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
        except OSError:
            self.connection.close()
            raise
        elapsed = time.perf_counter() - start
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        statements = None
        if path is not None and path.exists():
            statements = json.loads(path.read_text())
            path.unlink()
        queries = int(response.getheader("X-Bench-Queries") or -1)
        return response.status, elapsed, queries, statements, payload


def as_list(requests):
    return requests if isinstance(requests, list | tuple) else [requests]


class ScenarioError(Exception):
    pass


def run_iteration(client, scenario, ctx, i, capture=False):
    """One iteration: its request(s) in order. (seconds, queries, [statements], requests)."""
    total, queries, captured = 0.0, 0, []
    requests = as_list(scenario.func(ctx, i))
    for request in requests:
        status, elapsed, count, statements, payload = client.send(request, capture=capture)
        if status not in scenario.ok_status:
            raise ScenarioError(f"{request.method} {request.path} → {status}: {payload[:300].decode(errors='replace')}")
        total += elapsed
        queries += count
        if statements:
            captured.extend(statements)
    return total, queries, captured, len(requests)


def missing_endpoint(ctx, scenario, *, token):
    """For an optional scenario: its first iteration's requests once; the first that answers 404
    (the route is not in this checkout yet) as ``"GET /path → 404"``, else None."""
    client = Client(ctx.port, token)
    for request in as_list(scenario.func(ctx, 0)):
        status, _elapsed, _count, _statements, _payload = client.send(request)
        if status == 404:
            return f"{request.method} {request.path} → 404"
    return None


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency(ctx, scenario, *, token, warmup, requests, time_limit):
    client = Client(ctx.port, token)
    for i in range(warmup):
        run_iteration(client, scenario, ctx, i)
    times, queries = [], []
    deadline = time.monotonic() + time_limit
    for i in range(warmup, warmup + requests):
        seconds, count, _captured, _n = run_iteration(client, scenario, ctx, i)
        times.append(seconds * 1000)
        queries.append(count)
        if time.monotonic() > deadline:
            break
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "max_ms": round(max(times), 2),
        "queries": statistics.median(queries),
        "queries_min": min(queries),
        "queries_max": max(queries),
    }


def throughput(ctx, scenario, *, token, clients, duration, start_index):
    """Requests/s with ``clients`` threads for ``duration`` seconds (each stops at the deadline)."""
    counter = itertools.count(start_index)
    lock = threading.Lock()
    done = {"requests": 0, "iterations": 0, "errors": 0, "error": None}
    deadline = time.monotonic() + duration

    def worker():
        client = Client(ctx.port, token)
        while time.monotonic() < deadline:
            with lock:
                i = next(counter)
            try:
                _seconds, _queries, _captured, n = run_iteration(client, scenario, ctx, i)
            except (ScenarioError, OSError) as error:
                with lock:
                    done["errors"] += 1
                    done["error"] = done["error"] or str(error)
                if done["errors"] > 20:
                    return
                continue
            with lock:
                done["requests"] += n
                done["iterations"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 120)
    elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "rps": round(done["requests"] / elapsed, 1),
        "pages_per_s": round(done["iterations"] / elapsed, 1),
        "errors": done["errors"],
        "error": done["error"],
    }


def plain_sql(ctx, scenario, *, token, pages, replays, time_limit):
    """Capture the statements of ``pages`` iterations, then run them through psycopg (one
    connection, autocommit, rows fetched) ``replays`` times in all: the time PostgreSQL itself
    needs for the page, client round trips included."""
    client = Client(ctx.port, token)
    captured = []
    for i in range(pages):
        _seconds, _queries, statements, _n = run_iteration(client, scenario, ctx, 10_000 + i, capture=True)
        captured.append(statements)
    if not any(captured):
        return None
    times = []
    by_statement = {}  # statement position → ms, for the slowest-statement attribution
    deadline = time.monotonic() + time_limit
    with ctx.replay_connection() as conn:
        for round_ in range(replays):
            statements = captured[round_ % len(captured)]
            start = time.perf_counter()
            for position, statement in enumerate(statements):
                began = time.perf_counter()
                cursor = conn.execute(statement)
                if cursor.description is not None:
                    cursor.fetchall()
                by_statement.setdefault(position, []).append((time.perf_counter() - began) * 1000)
            times.append((time.perf_counter() - start) * 1000)
            if time.monotonic() > deadline:
                break
    slowest = sorted(by_statement.items(), key=lambda item: -statistics.median(item[1]))[:3]
    return {
        "n": len(times),
        "statements": statistics.median(len(s) for s in captured),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "slowest": [
            {
                "position": position,
                "p50_ms": round(statistics.median(values), 2),
                "sql": next((s[position] for s in captured if len(s) > position), "")[:400],
            }
            for position, values in slowest
        ],
    }
