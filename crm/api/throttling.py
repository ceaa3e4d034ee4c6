import logging

from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class AuthRateThrottle(ScopedRateThrottle):
    """Per-IP rate limit of the auth endpoints (rate ``auth`` in settings). If Redis cannot be
    reached the request goes on: django-axes still locks out repeated failures from the database."""

    scope_attr = "throttle_scope"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("auth throttle skipped: cache unavailable")
            return True
