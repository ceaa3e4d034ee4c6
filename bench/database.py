"""The bench database: its URL, (re)creation, the marker that says what is loaded, and the bulk
load (COPY into tables whose secondary indexes and foreign keys are rebuilt once afterwards)."""

import hashlib
import json
import math
import time
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_NAME = "crm_bench"
MARKER_TABLE = "bench_marker"
# Bump when the loading machinery changes the data it produces.
HARNESS_VERSION = 1


def bench_url(base_url, name=DEFAULT_NAME):
    """``base_url`` (DATABASE_URL) with its database replaced by ``name``."""
    parts = urlsplit(base_url or "postgres://postgres@127.0.0.1:5432/crm")
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(url):
    return unquote(urlsplit(url).path.lstrip("/"))


def conninfo(url, dbname=None):
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or "") or None,
        "dbname": dbname or database_name(url),
    }


def connect(url, **kwargs):
    return psycopg.connect(**conninfo(url), **kwargs)


def _check_name(name):
    # The harness drops and recreates its database: never let it touch another one.
    if "bench" not in name:
        raise SystemExit(f"refusing to use database {name!r} for the benchmark (its name must contain 'bench')")


def recreate(url, template=None):
    name = database_name(url)
    _check_name(name)
    with psycopg.connect(**conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def exists(url):
    with psycopg.connect(**conninfo(url, "postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)]).fetchone()
    return row is not None


def vacuum_dead_rows(url):
    """VACUUM (ANALYZE) the tables holding dead rows — a rolled-back batch job leaves its inserts
    behind as dead rows and index entries (an import: 76,000 customers each run), and where
    autovacuum is off (this machine's PostgreSQL) they pile up: after six imports the duplicate
    check's name lookups took twice as long. A server with autovacuum clears them by itself.
    The table names and their seconds, for the log."""
    done = []
    with connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT schemaname, relname FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC"
        ).fetchall()
        for schema, table in tables:
            started = time.monotonic()
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, table)))
            done.append((table, round(time.monotonic() - started, 1)))
    return done


def schema_version(generators):
    """What the loaded data depends on: the migrations on disk and each generator's version."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    state = {
        "harness": HARNESS_VERSION,
        "migrations": sorted(f"{app}.{name}" for app, name in loader.disk_migrations),
        "generators": {g.name: g.version for g in generators},
    }
    return hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def read_marker(url):
    if not exists(url):
        return None
    with connect(url) as conn:
        found = conn.execute("SELECT to_regclass(%s)", [MARKER_TABLE]).fetchone()[0]
        if not found:
            return None
        row = conn.execute(
            f"SELECT scale, schema_version, loaded_at, load_seconds, sizes FROM {MARKER_TABLE} LIMIT 1"
        ).fetchone()
    if row is None:
        return None
    keys = ("scale", "schema_version", "loaded_at", "load_seconds", "sizes")
    return dict(zip(keys, row, strict=True))


def write_marker(conn, *, scale, version, load_seconds, sizes):
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (scale float NOT NULL, schema_version text NOT NULL, "
        "loaded_at timestamptz NOT NULL DEFAULT now(), load_seconds float NOT NULL, sizes jsonb NOT NULL)"
    )
    conn.execute(f"DELETE FROM {MARKER_TABLE}")
    conn.execute(
        f"INSERT INTO {MARKER_TABLE} (scale, schema_version, load_seconds, sizes) VALUES (%s, %s, %s, %s)",
        [scale, version, load_seconds, json.dumps(sizes)],
    )


def _escape(value):
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


class Load:
    """What a generator gets: the scale, a psycopg connection in the load's transaction, COPY,
    ids of what earlier generators loaded, and a random generator seeded per generator (the same
    data on every machine)."""

    def __init__(self, conn, scale, log):
        self.conn = conn
        self.scale = scale
        self.log = log
        self.state = {}  # what generators hand to later ones (e.g. the bench users)
        self._dropped = {}  # table -> (index definitions, foreign key definitions)
        self._rewritten = set()
        self.rows = {}

    def count(self, full, minimum=1):
        """``full`` (the size at scale 1) at this run's scale."""
        return max(minimum, math.ceil(full * self.scale))

    def execute(self, query, params=None):
        return self.conn.execute(query, params)

    def ids(self, table, where="TRUE"):
        return [row[0] for row in self.conn.execute(f"SELECT id FROM {table} WHERE {where} ORDER BY id")]

    def copy(self, table, columns, rows, *, chunk=4000):
        """COPY ``rows`` (iterables of Python values, in ``columns`` order) into ``table``."""
        start = time.monotonic()
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            buffer = []
            for row in rows:
                buffer.append("\t".join(map(_escape, row)))
                count += 1
                if len(buffer) >= chunk:
                    copy.write("\n".join(buffer) + "\n")
                    buffer.clear()
            if buffer:
                copy.write("\n".join(buffer) + "\n")
        self.rows[table] = self.rows.get(table, 0) + count
        self.log(f"  {table}: {count:,} rows copied in {time.monotonic() - start:.1f} s")
        return count

    def copy_text(self, table, columns, lines, *, chunk=8000):
        """COPY already formatted rows (``lines``: one row each in COPY's text format, no newline) —
        for generators of millions of rows whose values need no escaping (numbers, dates, codes):
        several times faster than ``copy``."""
        start = time.monotonic()
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            buffer = []
            for line in lines:
                buffer.append(line)
                if len(buffer) >= chunk:
                    count += len(buffer)
                    buffer.append("")
                    copy.write("\n".join(buffer))
                    buffer.clear()
            if buffer:
                count += len(buffer)
                buffer.append("")
                copy.write("\n".join(buffer))
        self.rows[table] = self.rows.get(table, 0) + count
        self.log(f"  {table}: {count:,} rows copied in {time.monotonic() - start:.1f} s")
        return count

    def reset_sequence(self, table, column="id"):
        self.conn.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), coalesce((SELECT max({column}) FROM {table}), 0) + 1, "
            "false)",
            [table, column],
        )

    def rewritten(self, table):
        """Mark a table whose rows were updated in bulk: it is rewritten (VACUUM FULL) before its
        indexes come back, so it carries no dead rows into the measurement."""
        self._rewritten.add(table)

    # --- indexes and foreign keys -------------------------------------------------------------

    def drop_indexes(self, tables):
        # Deferred foreign-key checks of rows written so far in this transaction fire now: a
        # table with pending trigger events cannot be altered.
        self.conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            if table in self._dropped:
                continue
            indexes = self.conn.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = %s::regclass
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                """,
                [table],
            ).fetchall()
            foreign_keys = self.conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f'",
                [table],
            ).fetchall()
            for name, _definition in foreign_keys:
                self.conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
                )
            for name, _definition in indexes:
                self.conn.execute(f"DROP INDEX {name}")
            self._dropped[table] = (indexes, foreign_keys)

    def restore_indexes_parallel(self, url, workers=2):
        """Rebuild every dropped index on ``workers`` connections of their own (after the load has
        committed), the costly GIN ones first; then the foreign keys on this connection. PostgreSQL
        builds a GIN index on one core: two at a time use both."""
        import queue
        import threading

        jobs = queue.Queue()
        pending = sorted(
            ((table, definition) for table, (indexes, _fks) in self._dropped.items() for _name, definition in indexes),
            key=lambda item: (" USING gin " not in item[1], item[0] != "customers_customer"),
        )
        for item in pending:
            jobs.put(item)
        errors = []

        def work():
            try:
                with connect(url, autocommit=True) as conn:
                    conn.execute("SET maintenance_work_mem = '512MB'")
                    while True:
                        try:
                            table, definition = jobs.get_nowait()
                        except queue.Empty:
                            return
                        start = time.monotonic()
                        conn.execute(definition)
                        if time.monotonic() - start > 5:
                            self.log(f"  {table}: {definition.split(' ON ')[0]} in {time.monotonic() - start:.1f} s")
            except Exception as error:  # noqa: BLE001 — re-raised below, in the caller's thread
                errors.append(error)

        start = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        self.log(f"  {len(pending)} indexes in {time.monotonic() - start:.1f} s ({workers} connections)")
        for table, (_indexes, foreign_keys) in self._dropped.items():
            self._dropped[table] = ([], foreign_keys)
        self.restore_indexes()

    def restore_indexes(self, tables=None):
        """Rebuild what ``drop_indexes`` dropped (all tables, or these)."""
        for table in list(tables or self._dropped):
            if table not in self._dropped:
                continue
            indexes, foreign_keys = self._dropped.pop(table)
            start = time.monotonic()
            for _name, definition in indexes:
                self.conn.execute(definition)
            for name, definition in foreign_keys:
                self.conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                    + sql.SQL(definition)
                )
            self.log(
                f"  {table}: {len(indexes)} indexes, {len(foreign_keys)} foreign keys "
                f"in {time.monotonic() - start:.1f} s"
            )

    def pending_rewrites(self):
        return sorted(self._rewritten)
