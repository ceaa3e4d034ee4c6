"""Settings for the test suite: the real settings, plus a test-only owned model (the scope test
app) and a Redis cache database of its own that tests may flush."""

import os

os.environ.setdefault("CRM_TESTING", "1")

from crm.settings import *  # noqa: E402,F403
from crm.settings import CACHES, INSTALLED_APPS, REDIS_URL  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "crm.tests.scopeapp"]
ROOT_URLCONF = "crm.tests.urls"
CACHES["default"]["LOCATION"] = os.environ.get("TEST_CACHE_URL", REDIS_URL.rsplit("/", 1)[0] + "/15")
CACHES["default"]["KEY_PREFIX"] = "crm-test"
# Concurrent runs on one machine (two checkouts, two engineers) each name their own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_crm")}  # noqa: F405
# A broker database of the suite's own, so a development worker never takes a test's task.
CELERY_BROKER_URL = os.environ.get("TEST_BROKER_URL", REDIS_URL.rsplit("/", 1)[0] + "/13")
