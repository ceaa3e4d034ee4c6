"""The harness end to end at a tiny scale, so it cannot rot: its own database (a copy of the
migrated test database), every generator, gunicorn, one scenario through HTTP with its SQL
replayed, the JSON report. No timing is asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

from bench.registry import Selection

ROOT = Path(__file__).resolve().parents[2]


def _admin_connection():
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def test_selection_patterns():
    assert Selection([]).wants("customers.list")
    assert Selection(["customers"]).wants("customers.search.name")
    assert Selection(["customers.list"]).wants("customers.list")
    assert not Selection(["customers.list"]).wants("customers.list.all")
    assert Selection(["customers.search.*"]).wants("customers.search.phone")
    assert not Selection(["deals"]).wants("customers.list")


def test_harness_loads_data_and_measures_a_scenario(django_db_setup, django_db_blocker, tmp_path):
    template = settings.DATABASES["default"]["NAME"]
    harness_db = f"bench_harness_{template}"
    connections.close_all()  # a template database must have no other sessions:
    with _admin_connection() as conn:  # nor a live server's (browser tests) left behind by its threads
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [template],
        )
    output = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "bench", "--scale", "0.0002", "--database", harness_db, "--template", template,
        "--only", "customers.list", "--requests", "5", "--warmup", "2", "--duration", "1", "--sql-pages", "2",
        "--output", str(output),
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(output.read_text())
    finally:
        with _admin_connection() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(harness_db)))

    rows = report["data"]["rows"]
    assert rows["staff_user"] == 200
    assert rows["customers_customer"] == 100
    assert rows["customers_contact"] >= 100
    assert report["machine"]["cores"] >= 1
    [scenario] = report["scenarios"]
    assert scenario["name"] == "customers.list"
    assert "error" not in scenario, scenario
    assert scenario["latency"]["n"] == 5
    assert scenario["latency"]["queries"] > 0
    assert scenario["throughput"]["rps"] > 0
    assert scenario["sql"]["statements"] == scenario["latency"]["queries"]
    assert scenario["ratio"] > 0
