"""Counts the SQL statements of each request (``X-Bench-Queries``) and, when the request carries
``X-Bench-Capture: <hex token>``, writes them as executed to ``CAPTURE_DIR/<token>.json`` (a JSON
list; a header would be too long for a statement with thousands of ids), so the harness can time
the same statements through plain psycopg. Loaded only by bench/settings.py."""

import json
import re
import tempfile
from contextlib import ExitStack
from pathlib import Path

from django.db import connections

CAPTURE_DIR = Path(tempfile.gettempdir()) / "crm-bench-capture"
TOKEN = re.compile(r"[0-9a-f]{16,64}")


def capture_path(token):
    """Where the statements of the request carrying ``token`` are written (None: not a token)."""
    return CAPTURE_DIR / f"{token}.json" if TOKEN.fullmatch(token or "") else None


class _Recorder:
    def __init__(self, capture):
        self.count = 0
        self.capture = capture
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.count += 1
        if self.capture:
            connection = context["connection"]
            self.statements.append(connection.ops.last_executed_query(context["cursor"], sql, params))
        return result


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = capture_path(request.headers.get("X-Bench-Capture"))
        recorder = _Recorder(path is not None)
        with ExitStack() as stack:
            for connection in connections.all(initialized_only=False):
                stack.enter_context(connection.execute_wrapper(recorder))
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(recorder.count)
        if path is not None:
            CAPTURE_DIR.mkdir(exist_ok=True)
            path.write_text(json.dumps(recorder.statements))
        return response
