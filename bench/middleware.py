"""Counts the SQL statements of each request (``X-Bench-Queries``) and, when the request carries
``X-Bench-Capture: 1``, returns them as executed (``X-Bench-SQL``: base64 JSON list), so the
harness can time the same statements through plain psycopg. Loaded only by bench/settings.py."""

import base64
import json
from contextlib import ExitStack

from django.db import connections


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
        recorder = _Recorder(request.headers.get("X-Bench-Capture") == "1")
        with ExitStack() as stack:
            for connection in connections.all(initialized_only=False):
                stack.enter_context(connection.execute_wrapper(recorder))
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(recorder.count)
        if recorder.capture:
            response["X-Bench-SQL"] = base64.b64encode(json.dumps(recorder.statements).encode()).decode()
        return response
