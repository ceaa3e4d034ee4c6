"""Scratch measurement (issue 3): the customers list, search, filters and views at 500,000
customers through the API, in-process (Django test client, bearer tokens), per data scope.
Superseded by `make bench` (issue 10); see README.md beside this file."""

import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

from staff.models import User  # noqa: E402

URL = "/api/v1/customers/"
USERS = {
    "all (zhangwei)": "zhangwei",
    "department_tree (wangfang)": "wangfang",
    "department (liuyang)": "liuyang",
    "self_and_subordinates (huangqiang)": "huangqiang",
    "self (zhoujie)": "zhoujie",
}
SCENARIOS = [
    ("list page 50", {}),
    ("search 华为", {"q": "华为"}),
    ("search phone 1380013", {"q": "1380013"}),
    ("search typo 明远云帆", {"q": "明远云帆"}),
    ("filter level + cf range", {"level": 1, "cf_annual_budget_min": 100, "cf_annual_budget_max": 200}),
    ("view 30天未跟进", {"view": "stale30"}),
]


def client_for(username):
    client = APIClient()
    token = RefreshToken.for_user(User.objects.get(username=username)).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def main(requests=30):
    print(f"{'scenario':28} {'user':36} {'p50 ms':>8} {'p95 ms':>8} {'queries':>7} {'count':>8}")
    for label, params in SCENARIOS:
        for who, username in USERS.items():
            client = client_for(username)
            for _warm_up in range(3):
                client.get(URL, params)
            times = []
            for _request in range(requests):
                start = time.perf_counter()
                response = client.get(URL, params)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.content[:300]
            with CaptureQueriesContext(connection) as queries:
                body = client.get(URL, params).json()
            times.sort()
            count = f"{body['count']}{'+' if body['count_capped'] else ''}"
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"{label:28} {who:36} {statistics.median(times):8.1f} {p95:8.1f} "
                f"{len(queries.captured_queries):7} {count:>8}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
