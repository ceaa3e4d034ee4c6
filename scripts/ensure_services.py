"""Make sure PostgreSQL and Redis answer before the app starts, and that the database exists.

Uses DATABASE_URL / REDIS_URL when set, otherwise the local defaults. A local server that is
installed but stopped is started with this machine's own commands; a remote one is only checked.
Exit code 0 when both answer, 1 otherwise (with the reason on stderr).
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import redis
from psycopg import sql

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def log(message):
    print(f"[services] {message}", file=sys.stderr, flush=True)


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def postgres_conninfo(url, dbname):
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or "") or None,
        "dbname": dbname,
        "connect_timeout": 3,
    }


def postgres_answers(url):
    """The server answers if we can reach the app's own database or the maintenance one (the
    app's may not exist yet; a remote role may not be allowed into ``postgres``)."""
    for dbname in (database_name(url), "postgres"):
        try:
            with psycopg.connect(**postgres_conninfo(url, dbname)):
                return True
        except psycopg.OperationalError:
            continue
    return False


def database_name(url):
    return unquote(urlsplit(url).path.lstrip("/")) or "crm"


def start_postgres():
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return False
    for version in sorted(os.listdir("/etc/postgresql")):
        log(f"starting PostgreSQL {version}")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    return True


def ensure_database(url):
    name = database_name(url)
    try:
        with psycopg.connect(**postgres_conninfo(url, name)):
            return  # already there (and maybe all this role may reach)
    except psycopg.OperationalError:
        pass
    with psycopg.connect(**postgres_conninfo(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError:
        return False


def start_redis(port):
    if not shutil.which("redis-server"):
        return False
    log(f"starting Redis on port {port}")
    Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
    Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
        check=False,
    )  # fmt: skip
    return True


def main():
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    ok = True

    if not postgres_answers(database_url):
        local = (urlsplit(database_url).hostname or "") in LOCAL_HOSTS
        if not (local and start_postgres() and wait_for(lambda: postgres_answers(database_url))):
            log(f"PostgreSQL does not answer at {urlsplit(database_url).hostname}")
            ok = False
    if ok:
        ensure_database(database_url)

    if not redis_answers(redis_url):
        local = (urlsplit(redis_url).hostname or "") in LOCAL_HOSTS
        port = urlsplit(redis_url).port or 6379
        if not (local and start_redis(port) and wait_for(lambda: redis_answers(redis_url))):
            log(f"Redis does not answer at {urlsplit(redis_url).hostname}")
            ok = False

    if ok:
        log("PostgreSQL and Redis answer")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
