"""Settings shared by every environment; each value is read from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_fraction, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Everything the embedded defaults write (SQLite file, media, filesystem broker) lives here.
VAR_DIR = Path(env_str("DATAFAIR_VAR_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env_str("DJANGO_SECRET_KEY") or "django-insecure-local-only-never-in-production"
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "marketplace",
    "valuation",
    "pricing",
    "work",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    # Last: it turns a login refused by the lockout into its 429 (config/throttling.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's web server, worker and command share one SQLite file. WAL lets readers
    # go on while one connection writes; a transaction takes the write lock when it begins
    # (IMMEDIATE), so it waits up to ``timeout`` seconds for it there: a transaction that
    # read first and then asked for the lock could not wait (SQLite would deadlock) and
    # failed at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: a dataset file larger than this is refused with a 400 before it is parsed.
DATAFAIR_MAX_UPLOAD_BYTES = env_int("DATAFAIR_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Celery -----------------------------------------------------------------------------
# With REDIS_URL set, Redis is broker and result backend. Without it, Celery's filesystem
# transport under var/ carries messages to a real, separate worker process (never eager mode).
REDIS_URL = env_str("REDIS_URL") or None
CELERY_FS_DIR = VAR_DIR / "celery"
FS_FOLDERS = ("queue", "control", "results")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Redis hands an unacknowledged message to another worker after this long: past the
    # hard time limit, so a message whose task still runs is not handed out again (a copy
    # would be a no-op anyway: its unit's lease is live).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_TASK_TIME_LIMIT", 30 * 60) + 5 * 60
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = f"file://{CELERY_FS_DIR / 'results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_DIR / "queue"),
        "control_folder": str(CELERY_FS_DIR / "control"),
        "store_processed": False,
    }
# The cache every process shares (rate-limit counts): Redis beside the broker, else files.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
}
CACHES["default"]["KEY_PREFIX"] = "datafair"
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Background work (work/): a running unit's lease, renewed by its worker's heartbeat every
# quarter of it; the sweep's period (Celery beat); how long a queued unit waits with the
# broker's queue empty before its message counts as lost; claims before a unit is given up.
DATAFAIR_WORK = {
    "lease_seconds": env_int("DATAFAIR_WORK_LEASE_SECONDS", 60),
    "sweep_seconds": env_int("DATAFAIR_WORK_SWEEP_SECONDS", 30),
    "lost_after_seconds": env_int("DATAFAIR_WORK_LOST_AFTER_SECONDS", 60),
    "max_attempts": env_int("DATAFAIR_WORK_MAX_ATTEMPTS", 5),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-lost-work": {
        "task": "work.sweep",
        "schedule": float(DATAFAIR_WORK["sweep_seconds"]),
        # A sweep that waited a whole period in the queue is superseded by the next one.
        "options": {"expires": float(DATAFAIR_WORK["sweep_seconds"])},
    }
}

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
    # Views with a ``throttle_scope`` are limited by DATAFAIR_RATE_LIMITS (config/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ScopeThrottle"],
}

# Content-Security-Policy of every response (config/csp.py): scripts, styles, images and
# fonts from our own origin only, no inline script. Swagger UI (/api/docs/) draws its icons
# from data: URIs.
DATAFAIR_CSP = env_str("DATAFAIR_CSP") or (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- Abuse: rates and login lockout (config/throttling.py) --------------------------------
# Per client (its user when logged in, else its address), shared by the API and the web.
DATAFAIR_RATE_LIMITS = {
    "login": env_str("DATAFAIR_RATE_LOGIN", "20/min"),
    "register": env_str("DATAFAIR_RATE_REGISTER", "10/hour"),
    "upload": env_str("DATAFAIR_RATE_UPLOAD", "30/hour"),
    "deposit": env_str("DATAFAIR_RATE_DEPOSIT", "60/hour"),
}
# The client's address is REMOTE_ADDR; behind N proxies that set X-Forwarded-For, say N (a
# client-sent header is never trusted otherwise).
REST_FRAMEWORK["NUM_PROXIES"] = env_int("DATAFAIR_NUM_PROXIES", 0)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("DATAFAIR_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DATAFAIR_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.throttling.locked_out"
AXES_VERBOSE = False
# Where the Django admin lives: a path of the deployment's choosing keeps it out of the way
# of scripts that try /admin/ on every site.
DATAFAIR_ADMIN_PATH = ((env_str("DATAFAIR_ADMIN_PATH") or "").strip("/") or "admin") + "/"
SPECTACULAR_SETTINGS = {
    "TITLE": "DataFair API",
    "DESCRIPTION": "A data marketplace that prices data by what it is worth to the buyer.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN at @latest.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DatasetStatusEnum": "marketplace.models.datasets.Dataset.Status",
        "TaskStatusEnum": "marketplace.models.tasks.Task.Status",
        "ExplanationLineKindEnum": "pricing.explanation.KINDS",
        "OrderKindEnum": "marketplace.models.orders.Order.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

for _folder in (VAR_DIR, MEDIA_ROOT, STATIC_ROOT, *(CELERY_FS_DIR / d for d in FS_FOLDERS)):
    _folder.mkdir(parents=True, exist_ok=True)

# Limits on what one upload may hold (a larger table is refused with a 400 naming the limit).
DATAFAIR_MAX_ROWS = env_int("DATAFAIR_MAX_ROWS", 1_000_000)
DATAFAIR_MAX_COLUMNS = env_int("DATAFAIR_MAX_COLUMNS", 500)
# An upload whose rows mostly repeat another provider's dataset is held for review.
DATAFAIR_DUPLICATE_HOLD_FRACTION = 0.5
# Screening after upload (marketplace.services.screening): a near-duplicate similarity to
# another provider's dataset at or above this holds the upload for review ...
DATAFAIR_SIMILARITY_HOLD = float(env_str("DATAFAIR_SIMILARITY_HOLD", "0.5"))
# ... and so does a measured accuracy gain of at least this many points from dropping the
# rows the poisoning screen flags.
DATAFAIR_POISON_HOLD_POINTS = float(env_str("DATAFAIR_POISON_HOLD_POINTS", "2.0"))
# Independent datasets share a few near-duplicate rows by chance (about ln 2 · 0.25^d of
# them with d features, valuation/core/detection.py); the quote's replication penalty only
# counts the overlap beyond this much, rescaled so a full copy still counts as 1.
DATAFAIR_SIMILARITY_CHANCE = float(env_str("DATAFAIR_SIMILARITY_CHANCE", "0.05"))

# How many valuations (tasks) one consumer may start per hour, API and web alike: valuation
# is the expensive part, and repeated quotes must not be a way to probe providers' data.
DATAFAIR_TASKS_PER_HOUR = env_int("DATAFAIR_TASKS_PER_HOUR", 30)
# API tokens are refused this many days after they were issued (0: never); logging in
# again issues a new one (config/authentication.py).
DATAFAIR_TOKEN_TTL_DAYS = env_int("DATAFAIR_TOKEN_TTL_DAYS", 30)

# Market policy: the platform's fee on every sale, in basis points of the charge.
DATAFAIR_FEE_BPS = env_int("DATAFAIR_FEE_BPS", 1000)
# A dataset is paid only for a measurable contribution: a discovery at this false-discovery
# rate among the datasets of the quote (Benjamini–Hochberg, pricing/shares.py). 1 would pay
# any positive estimate, and so pay sampling noise — to worthless rows, and more of it to
# worthless rows cut into many datasets; the bar also leaves out small honest datasets whose
# value the sampling cannot yet tell from zero (benchmarks/manipulation.py measures both).
DATAFAIR_PAID_FDR = env_fraction("DATAFAIR_PAID_FDR", 0.05)

# Valuation jobs: how work is cut into Celery chunks, and when sampling stops. The payout
# basis (row-level Shapley values, valuation/core/methods/rows.py) fits the model
# ``basis_fits`` times whatever the grouping of its rows, four units of 128 fits a chunk.
DATAFAIR_VALUATION = {
    "coalitions_per_chunk": env_int("DATAFAIR_COALITIONS_PER_CHUNK", 64),
    "samples_per_chunk": env_int("DATAFAIR_SAMPLES_PER_CHUNK", 10),
    "max_samples": env_int("DATAFAIR_MAX_SAMPLES", 200),
    "basis_fits": env_int("DATAFAIR_BASIS_FITS", 9216),
    "row_units_per_chunk": env_int("DATAFAIR_ROW_UNITS_PER_CHUNK", 4),
}
# Valuation jobs draw a fresh seed each unless one is pinned here (the test suite and its
# live stacks pin one, so that a market gives the same values on every run).
if env_str("DATAFAIR_VALUATION_SEED"):
    DATAFAIR_VALUATION["seed"] = env_int("DATAFAIR_VALUATION_SEED", 0)

# Bags of Data-OOB, the costliest of the three row detectors that screening and insights
# run (their consensus with KNN-Shapley and LAVA); its cost is linear in them.
DATAFAIR_DETECTOR_BAGS = env_int("DATAFAIR_DETECTOR_BAGS", 100)

# Insights after a quote (services/insights.py): the share of rows reported as suspect, and
# how many different consumers' tasks must have valued a dataset before its provider sees
# what they said about its rows (fewer could let a provider read one consumer's data).
DATAFAIR_INSIGHTS = {
    "suspect_share": 0.1,
    "min_consumers": env_int("DATAFAIR_QUALITY_MIN_CONSUMERS", 3),
    "k": 5,
    # Rows the three detectors examine, about (a seeded sample, each dataset in proportion):
    # their cost grows with it, and the rest of the insights with the data.
    "max_rows": env_int("DATAFAIR_INSIGHTS_MAX_ROWS", 20_000),
}
