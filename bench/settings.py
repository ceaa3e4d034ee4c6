"""Settings of the server the benchmark measures: the real settings plus the query-counting
middleware (bench/middleware.py). Only `make bench` loads this module."""

import warnings

from crm.settings import *  # noqa: F403
from crm.settings import MIDDLEWARE

# The API serves no static files; an unbuilt STATIC_ROOT is not worth a warning per worker.
warnings.filterwarnings("ignore", message="No directory at")

MIDDLEWARE = ["bench.middleware.QueryCountMiddleware", *MIDDLEWARE]
