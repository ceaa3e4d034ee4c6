"""GET /healthz: is the database, Redis and at least one Celery worker answering?"""

import logging
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from crm.celery import app as celery_app

logger = logging.getLogger(__name__)
CELERY_PING_TIMEOUT = 1.0  # seconds a worker has to answer the broadcast ping (the wait ends at the first reply)


def _timed(check):
    started = time.monotonic()
    try:
        status = check()
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, it never raises
        # The type only: messages can carry host names and users, and this page is public.
        logger.warning("health check %s failed: %s", check.__name__, exc)
        status = {"ok": False, "error": type(exc).__name__}
    status["ms"] = round((time.monotonic() - started) * 1000, 1)
    return status


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _redis_urls():
    """Every Redis the app uses (broker and cache), once each; REDIS_URL when they are the same."""
    urls = [settings.REDIS_URL, settings.CELERY_BROKER_URL, settings.CACHES["default"]["LOCATION"]]
    return list(dict.fromkeys(url for url in urls if url.startswith(("redis://", "rediss://"))))


def check_redis():
    for url in _redis_urls():
        client = redis.Redis.from_url(
            url, socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT, socket_timeout=settings.REDIS_SOCKET_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
    return {"ok": True}


def check_celery():
    replies = celery_app.control.ping(timeout=CELERY_PING_TIMEOUT, limit=1) or []
    workers = sorted(name for reply in replies for name in reply)
    return {"ok": bool(workers), "workers": workers}


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _timed(check_database), "redis": _timed(check_redis)}
    if checks["redis"]["ok"]:
        checks["celery"] = _timed(check_celery)
    else:
        checks["celery"] = {"ok": False, "error": "broker unavailable", "ms": 0.0}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)
