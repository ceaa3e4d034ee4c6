"""The one settings module. Every value a deployment may change comes from the environment,
with a default that works on a development machine (PostgreSQL and Redis on 127.0.0.1).

Required in production (DEBUG off): SECRET_KEY. See README.md, "Configuration".
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
TESTING = env.bool("CRM_TESTING", default=False)


def _development_secret_key():
    """A random key made once per checkout (var/dev-secret-key, not in git): even a deployment
    that forgot DEBUG=0 never signs sessions and tokens with a key anyone can read."""
    path = BASE_DIR / "var" / "dev-secret-key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _development_secret_key()

# How many reverse proxies (nginx, a load balancer) stand in front of the app and append to
# X-Forwarded-For. 0: the client's address is the connection's, and X-Forwarded-For is ignored —
# otherwise anyone could pick the address that login throttles and lockouts count.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "guardian",
    "simple_history",
    "crm",
    "staff",
    "audit",
    "customers",
    "pool",
    "notifications",
    "activities",
    "opportunities",
    "contracts",
    "approvals",
    "analytics",
    "workbench",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the lockout flag the axes backend sets during authentication.
    "axes.middleware.AxesMiddleware",
    # Stamps the request's user on history rows written outside services (admin).
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.inbox",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/crm")}
DATABASES["default"].update(
    {
        # Persistent connections, checked at the start of each request so that a PostgreSQL
        # restart heals by itself instead of failing the first request on a dead socket.
        "CONN_MAX_AGE": env.int("CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
        # JIT compiling added 50–115 ms to each report's aggregate and saved nothing on
        # queries this short (PostgreSQL's JIT suits long analytical scans, not OLTP pages).
        "OPTIONS": {"connect_timeout": 5, "options": "-c jit=off"},
    }
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker ----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Seconds; a hung Redis fails a request quickly instead of holding it.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="crm"),
        "OPTIONS": {
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "staff.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out clients before any lookup
    "staff.backends.StaffBackend",  # username or mobile; permissions from roles
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-guardian keeps team members' object permissions (customers.models.CustomerTeamMember and
# the like). Its backend is not installed: expiry and access levels are checked by crm code, and
# no AnonymousUser row is created.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
SILENCED_SYSTEM_CHECKS = ["guardian.W001"]  # its backend is left out on purpose (see above)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workbench"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection: after AXES_FAILURE_LIMIT failures for one login name from one IP the
# pair is locked for AXES_COOLOFF_TIME. Unknown names count exactly like wrong passwords.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "staff.auth.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "staff.auth.axes_username"
AXES_CLIENT_IP_CALLABLE = "staff.auth.client_ip"

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# zh-hans money with thousands separators (crm/formats/zh_Hans).
FORMAT_MODULE_PATH = ["crm.formats"]

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- E-mail -------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production) ----------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_REFERRER_POLICY = "same-origin"

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "crm.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"auth": env.str("AUTH_THROTTLE_RATE", default="20/min")},
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": SECRET_KEY,
    # Tokens carry a digest of the password hash: a password change revokes every token issued before.
    "CHECK_REVOKE_TOKEN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "客户关系管理系统 REST API (/api/v1/). Bearer tokens from /api/v1/auth/token/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Choice sets that share a field name ("kind", "type") or a set used under two field names
    # ("model", "target") get one stable name each.
    "ENUM_NAME_OVERRIDES": {
        "DataScopeEnum": "staff.models.DataScope",
        "CustomerKindEnum": "customers.models.CustomerKind",
        "StageKindEnum": "opportunities.models.StageKind",
        "FollowUpTypeEnum": "activities.models.FollowUpType",
        "ImportTargetEnum": "imports.models.Target",
        "InvoiceKindEnum": "contracts.models.InvoiceKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_error_responses",
    ],
}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the hard time limit, or Redis would hand a running acks_late task to another worker.
    "visibility_timeout": 2 * 60 * 60,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "max_retries": 2,  # publishing from a web request gives up quickly when Redis is down
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With acks_late, a task still running when the worker loses Redis would be delivered again while
# it finishes; cancel it instead (it is redelivered once and runs alone).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=15 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=20 * 60)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default"), Queue("notifications"), Queue("analytics")]
CELERY_TIMEZONE = TIME_ZONE
# Reminders and their delivery never wait behind a long job on the default queue.
CELERY_TASK_ROUTES = {"notifications.tasks.*": {"queue": "notifications"}}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Every periodic job runs through crm.periodic.run_once_per_period, so two beats (or a retried
# delivery) never repeat an effect within the same period.
CELERY_BEAT_SCHEDULE = {
    # Expired sessions out of the table; daily at 03:30.
    "staff-clear-expired-sessions": {
        "task": "staff.tasks.clear_expired_sessions_task",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 60 * 60},  # a delivery an hour late belongs to no period: drop it
    },
    # Login attempts older than the retention window; daily at 03:40.
    "staff-purge-old-login-attempts": {
        "task": "staff.tasks.purge_old_login_attempts_task",
        "schedule": crontab(hour=3, minute=40),
        "options": {"expires": 60 * 60},
    },
    # Audit events past the retention window; daily at 03:50.
    "audit-purge-expired": {
        "task": "audit.tasks.audit_purge_expired_task",
        "schedule": crontab(hour=3, minute=50),
        "options": {"expires": 60 * 60},
    },
    # Reminders at exact times (task due); every 5 minutes. Each reminder is unique per
    # (kind, target, recipient, occasion), so overlapping or repeated runs never duplicate one.
    "notifications-reminders-frequent": {
        "task": "notifications.tasks.reminders_generate_task",
        "schedule": crontab(minute="*/5"),
        "kwargs": {"cadence": "frequent"},
        "options": {"queue": "notifications", "expires": 4 * 60},
    },
    # Day-based reminders (next follow-up, birthdays, holidays, pool warnings): on the hour
    # 08:00-20:00 Asia/Shanghai — the first run of the day sends them, later ones catch additions.
    "notifications-reminders-daily": {
        "task": "notifications.tasks.reminders_generate_task",
        "schedule": crontab(minute=0, hour="8-20"),
        "kwargs": {"cadence": "daily"},
        "options": {"queue": "notifications", "expires": 50 * 60},
    },
    # Check-in coordinates older than FOLLOW_UP_CHECKIN_RETENTION_DAYS cleared; daily at 04:10.
    "activities-purge-check-ins": {
        "task": "activities.tasks.follow_up_purge_check_ins_task",
        "schedule": crontab(hour=4, minute=10),
        "options": {"expires": 60 * 60},
    },
    # Customers in the recycle bin longer than CUSTOMER_RECYCLE_BIN_DAYS; daily at 04:00.
    "customers-purge-recycle-bin": {
        "task": "customers.tasks.customer_purge_recycle_bin_task",
        "schedule": crontab(hour=4, minute=0),
        "options": {"expires": 60 * 60},
    },
    # The public pool's recall (公海回收): due customers return to their pools; daily at 02:00.
    "pool-recall": {
        "task": "pool.tasks.pool_recall_task",
        "schedule": crontab(hour=2, minute=0),
        "options": {"expires": 60 * 60},
    },
    # Customer profiles (客户画像): the churn model retrained, then every profile recomputed; daily
    # at 01:30 on the analytics queue (under a minute at 500,000 customers).
    "analytics-profiles-recompute": {
        "task": "analytics.tasks.profiles_recompute_all_task",
        "schedule": crontab(hour=1, minute=30),
        "options": {"queue": "analytics", "expires": 60 * 60},
    },
    # Import uploads, error sheets and export files older than 7 days; daily at 04:10.
    "imports-purge-expired": {
        "task": "imports.tasks.import_purge_expired_task",
        "schedule": crontab(hour=4, minute=10),
        "options": {"expires": 60 * 60},
    },
    # Contracts past their end date: 执行中 → 已到期; daily at 00:10 Asia/Shanghai, just after the
    # day changes (before the instalment refresh, which does not depend on it).
    "contracts-expire-due": {
        "task": "contracts.tasks.contracts_expire_due_task",
        "schedule": crontab(hour=0, minute=10),
        "options": {"expires": 60 * 60},
    },
    # Instalment statuses (回款计划: 逾期 once past due and not fully paid, 作废 with a void
    # contract); daily at 00:20, so the 08:00 reminders and the day's reports see them current.
    "contracts-payment-plans-refresh": {
        "task": "contracts.tasks.payment_plans_refresh_task",
        "schedule": crontab(hour=0, minute=20),
        "options": {"expires": 60 * 60},
    },
    # 日报 / 周报 / 月报 e-mails to their subscribers, for the period just ended: yesterday's daily
    # at 08:00, last week's on Monday 08:00, last month's on the 1st at 08:00. Each
    # (subscription, period) is sent once (analytics.SummaryDelivery), however often this runs.
    "analytics-summaries-daily": {
        "task": "analytics.tasks.summaries_send_task",
        "schedule": crontab(hour=8, minute=0),
        "kwargs": {"frequency": "daily"},
        "options": {"queue": "notifications", "expires": 60 * 60},
    },
    "analytics-summaries-weekly": {
        "task": "analytics.tasks.summaries_send_task",
        "schedule": crontab(hour=8, minute=0, day_of_week="mon"),
        "kwargs": {"frequency": "weekly"},
        "options": {"queue": "notifications", "expires": 60 * 60},
    },
    "analytics-summaries-monthly": {
        "task": "analytics.tasks.summaries_send_task",
        "schedule": crontab(hour=8, minute=0, day_of_month="1"),
        "kwargs": {"frequency": "monthly"},
        "options": {"queue": "notifications", "expires": 60 * 60},
    },
}

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes.apps": {"level": "WARNING"}},
}

# --- Domain settings ----------------------------------------------------------------------------
# Login attempts (axes) are kept this many days, then purged nightly.
LOGIN_ATTEMPT_RETENTION_DAYS = env.int("LOGIN_ATTEMPT_RETENTION_DAYS", default=180)
# Audit events are append-only and kept this many days (never fewer than 180: SPEC §1).
AUDIT_RETENTION_DAYS = max(180, env.int("AUDIT_RETENTION_DAYS", default=365))
# Deleted customers stay restorable in the recycle bin this many days, then are purged.
CUSTOMER_RECYCLE_BIN_DAYS = env.int("CUSTOMER_RECYCLE_BIN_DAYS", default=30)
# Duplicate check (客户查重): company names whose normalised keys have at least this pg_trgm
# similarity are candidates (0-1; 上海华为技术有限公司 vs 华为技术（上海）有限公司 = 1.0).
CUSTOMER_DUPLICATE_NAME_SIMILARITY = env.float("CUSTOMER_DUPLICATE_NAME_SIMILARITY", default=0.6)
# Lists count exactly up to this many rows, then answer "10,000+" (an exact count over 500,000
# rows costs 50-100 ms on every page load).
LIST_COUNT_LIMIT = env.int("LIST_COUNT_LIMIT", default=10_000)
# Follow-ups: 外勤签到 (latitude/longitude on visits) on or off, and how long coordinates are kept
# before the nightly purge clears them; attachments per follow-up and their size.
FOLLOW_UP_CHECKIN_ENABLED = env.bool("FOLLOW_UP_CHECKIN_ENABLED", default=True)
FOLLOW_UP_CHECKIN_RETENTION_DAYS = env.int("FOLLOW_UP_CHECKIN_RETENTION_DAYS", default=90)
FOLLOW_UP_ATTACHMENT_MAX_COUNT = env.int("FOLLOW_UP_ATTACHMENT_MAX_COUNT", default=9)
FOLLOW_UP_ATTACHMENT_MAX_MB = env.int("FOLLOW_UP_ATTACHMENT_MAX_MB", default=10)
# Absolute links in e-mails and robot messages start with this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Seconds one group-robot webhook POST may take (the task retries with back-off afterwards).
NOTIFICATION_WEBHOOK_TIMEOUT = env.float("NOTIFICATION_WEBHOOK_TIMEOUT", default=5.0)
# Holders of "view full contact details" who are neither owner nor team member see numbers
# masked until they press 查看完整号码 (audit-logged). Off: they see them in full everywhere.
CONTACT_REVEAL_REQUIRED = env.bool("CONTACT_REVEAL_REQUIRED", default=True)

# Contracts: the number prefix (HT + YYYYMMDD + 6-digit daily sequence, e.g. HT20261122000001).
CONTRACT_NUMBER_PREFIX = env.str("CONTRACT_NUMBER_PREFIX", default="HT")
