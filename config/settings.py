"""Pulse settings: one module, driven by the environment.

With no environment at all Pulse runs on embedded defaults (SQLite and kombu's filesystem transport under
``var/``, secrets generated once under ``var/``). ``PULSE_ENV=production`` turns the defaults off: every
variable production needs must be given, and a missing or malformed one stops start-up naming it.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.email import anymail_settings, email_backend
from config.env import env_bool, env_choice, env_int, env_list, env_str, generated_secret, require
from config.logs import FORMATS, logging_config

# Admin classes and forms name their model as a type parameter (``ModelAdmin[Team]``) for mypy; Django gives
# those classes no ``__class_getitem__``, django-stubs-ext adds it (before any admin module is imported).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PULSE_VAR_DIR", str(BASE_DIR / "var")))

PULSE_ENV = env_choice("PULSE_ENV", "development", ("development", "production"))
PRODUCTION = PULSE_ENV == "production"
TESTING = "pytest" in sys.modules or env_bool("PULSE_TESTING", False)

DEBUG = env_bool("DEBUG", not PRODUCTION and not TESTING)

if PRODUCTION:
    SECRET_KEY = require("SECRET_KEY")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters with at least 5 different ones")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS is required when PULSE_ENV=production")
    DATABASE_URL = require("DATABASE_URL")
    REDIS_URL = env_str("REDIS_URL")
    if not (env_str("CELERY_BROKER_URL") or REDIS_URL):
        raise ImproperlyConfigured(
            "A broker is required when PULSE_ENV=production: CELERY_BROKER_URL (redis:// or amqp://), or "
            "REDIS_URL for a Redis that is both broker and cache"
        )
else:
    SECRET_KEY = env_str("SECRET_KEY") or generated_secret(VAR_DIR / "secret_key")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
    DATABASE_URL = env_str("DATABASE_URL")
    REDIS_URL = env_str("REDIS_URL")


def _key_ring(
    name: str, *, generated: Path, required: bool, legacy_name: str = "", legacy: Path | None = None
) -> list[bytes]:
    """A key ring from ``name``: 32-byte AES-GCM keys, urlsafe base64, comma-separated, newest first
    (rotation: prepend). Outside production a missing ring is one key generated once into ``generated``
    under var/; in production a ``required`` ring must be set. ``legacy_name`` is an earlier name of the
    variable, read when the new one is not set; ``legacy`` an earlier generated file, kept when present."""
    if legacy_name and env_str(legacy_name) and not env_str(name):
        name = legacy_name
    raw = env_list(name)
    if not raw:
        if PRODUCTION:
            if required:
                raise ImproperlyConfigured(f"{name} is required when PULSE_ENV=production")
            return []
        raw = [
            generated_secret(
                legacy if legacy is not None and legacy.exists() else generated,
                lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
            )
        ]
    keys = []
    for position, item in enumerate(raw, start=1):
        try:
            key = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ImproperlyConfigured(
                f"{name} entry {position} must be 32 bytes in urlsafe base64 (generate one with: "
                "python -c 'import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
            )
        keys.append(key)
    return keys


# The token key ring seals the copies of invitation tokens that reminders reuse (erased when their round
# closes). Ballots are not sealed with it: each round has its own key, destroyed at close
# (``surveys.round_keys``). ``PULSE_BALLOT_KEYS`` is its earlier name; a checkout made before the rename keeps
# its key file, so open rounds' reminders still open.
PULSE_TOKEN_KEYS = _key_ring(
    "PULSE_TOKEN_KEYS",
    generated=VAR_DIR / "token_key",
    required=True,
    legacy_name="PULSE_BALLOT_KEYS",
    legacy=VAR_DIR / "ballot_key",
)
# The stored-secrets key ring seals the credentials of connections Pulse calls out to (PagerDuty API keys,
# webhook and Slack signing secrets, bot tokens) in the database (``surveys.stored_secrets``). Kept apart from
# the token ring because its keys live as long as the connections do, not as long as a round. Optional in
# production until a connection is saved: saving one without it is refused with this variable's name.
PULSE_SECRET_KEYS = _key_ring("PULSE_SECRET_KEYS", generated=VAR_DIR / "secret_keys", required=False)
# The reference key hashes on-call responders, incidents and people on leave (HMAC-SHA256,
# pulse.models.oncall) so the database never holds an email or a tool's user id. One key, not a rotating
# ring: the hash must stay the same for a re-import to find its rows, so a new key starts new references
# (docs/operations.md §5). Optional in production until on-call data is stored: storing it without the key
# is refused by name.
_reference_ring = _key_ring("PULSE_REFERENCE_KEY", generated=VAR_DIR / "reference_key", required=False)
PULSE_REFERENCE_KEY = _reference_ring[:1]

# The round key store (surveys/round_keys.py, docs/anonymity.md): each open round's private ballot key, on
# storage whose retention is separate from the database's. Only the processes that open and close rounds
# (Celery workers) need it; the web tier seals with the public key stored on the round. Development keeps
# it under var/ and creates it; production names a directory on its own volume, which must exist.
PULSE_ROUND_KEY_STORE = env_str("PULSE_ROUND_KEY_STORE", "surveys.round_keys.DirectoryKeyStore")
PULSE_ROUND_KEY_DIR = env_str("PULSE_ROUND_KEY_DIR", "" if PRODUCTION else str(VAR_DIR / "round_keys"))
PULSE_ROUND_KEY_DIR_CREATE = not PRODUCTION

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files (no CDN)
    "simple_history",
    "anymail",
    "csp",
    "surveys",
    "pulse",
]
if not PRODUCTION:
    # Benchmarks (which create and drop databases) and the demo's history: development only, so in
    # production `manage.py pulse_bench` is an unknown command.
    INSTALLED_APPS.append("pulse.devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are served by WhiteNoise in every environment (runserver's own static view is off:
    # whitenoise.runserver_nostatic), so development serves them exactly as production does.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pulse.middleware.SessionTimeoutMiddleware",
    # The page's language and time zone, by Pulse's one rule (docs/languages.md §2): after sign-in state
    # is settled (authentication, session time-out).
    "surveys.language.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pulse.web.context.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {error}") from None
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "pulse.sqlite3")}
    # SQLite allows one writer at a time; wait for the lock instead of failing when web, worker and beat
    # write together on the embedded default.
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
_db["CONN_HEALTH_CHECKS"] = True
# Several developers (or CI jobs) sharing one PostgreSQL server each name their own test database.
_db["TEST"] = {"NAME": env_str("PULSE_TEST_DATABASE")} if env_str("PULSE_TEST_DATABASE") else {}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Redis, cache and Celery ---------------------------------------------------------------------------
# A Redis that accepts connections and never answers must not hold a web request: every client gives up
# within a few seconds (the health check relies on this).
REDIS_SOCKET_TIMEOUT = 2.0
# The cache answers from memory on a nearby machine in well under a millisecond; a quarter second is ample.
REDIS_CACHE_TIMEOUT = env_int("REDIS_CACHE_TIMEOUT_MS", 250, minimum=10) / 1000
# REDIS_URL alone makes one Redis both the broker and the cache. CELERY_BROKER_URL (Redis or RabbitMQ) and
# CACHE_URL name each on its own: a cache may evict keys under memory pressure, a broker must never drop a
# queued task, so production gives the cache its own Redis (or the broker's Redis `noeviction`).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CACHE_URL = env_str("CACHE_URL") or REDIS_URL
if CACHE_URL:
    CACHES = {
        "default": {
            # A hung cache must not hold requests: short timeouts, and a circuit breaker (config/cache.py).
            "BACKEND": "config.cache.CircuitBreakerRedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_timeout": REDIS_CACHE_TIMEOUT,
                "socket_connect_timeout": REDIS_CACHE_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object]
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "visibility_timeout": 3600,
    }
elif CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded default: a broker that needs no server, in folders under var/.
    BROKER_DIR = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # RabbitMQ (amqp://): acknowledgements are per message, nothing to configure.
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 15 * 60, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The tick on the default queue; drains on one queue per kind of work (PULSE_STEP_QUEUES). A worker
# started without -Q consumes them all; an operator can give each queue its own workers (docs/operations.md).
# PULSE_QUEUE_PREFIX keeps two installations (or test runs) on one broker apart.
PULSE_QUEUE_PREFIX = env_str("PULSE_QUEUE_PREFIX", "")
CELERY_TASK_DEFAULT_QUEUE = f"{PULSE_QUEUE_PREFIX}tick"
PULSE_QUEUES = ("tick", "sending", "closing", "trends")
CELERY_TASK_QUEUES = [Queue(f"{PULSE_QUEUE_PREFIX}{name}") for name in PULSE_QUEUES]
CELERY_TASK_ROUTES = {
    "pulse.tasks.send_auth_emails": {"queue": f"{PULSE_QUEUE_PREFIX}sending"},
    "pulse.tasks.send_team_results_emails": {"queue": f"{PULSE_QUEUE_PREFIX}sending"},
    "pulse.tasks.send_team_summary_slack_messages": {"queue": f"{PULSE_QUEUE_PREFIX}sending"},
    "pulse.tasks.aggregate_round": {"queue": f"{PULSE_QUEUE_PREFIX}closing"},
    # Recomputing a team's on-call weeks reads its whole history: CPU and database work, like a close.
    "pulse.tasks.oncall_weeks_compute": {"queue": f"{PULSE_QUEUE_PREFIX}closing"},
    # A PagerDuty sync waits its turn at the API's rate limit: off the tick's queue, beside the trend runs.
    "pulse.tasks.sync_pagerduty_team": {"queue": f"{PULSE_QUEUE_PREFIX}trends"},
    "pulse.tasks.sync_pagerduty_all": {"queue": f"{PULSE_QUEUE_PREFIX}trends"},
    "pulse.tasks.oncall_weeks_refresh": {"queue": f"{PULSE_QUEUE_PREFIX}trends"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "config.celery.Scheduler"  # makes the schedule file's directory first
# The tick every minute: due work lives in database rows with a due time, and the tick claims it. Two hourly
# entries beside it find their own work in the database too.
CELERY_BEAT_SCHEDULE = {
    "pulse-tick": {"task": "surveys.tasks.tick", "schedule": 60.0, "options": {"expires": 55}},
    # Every PagerDuty-linked team synced once an hour (webhooks bring a team's sync forward in between).
    "pulse-pagerduty-sync": {
        "task": "pulse.tasks.sync_pagerduty_all",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Weeks stored under an older version of the on-call rules are recomputed (after an upgrade).
    "pulse-oncall-weeks-refresh": {
        "task": "pulse.tasks.oncall_weeks_refresh",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}

# --- Email ---------------------------------------------------------------------------------------------
# PULSE_EMAIL_PROVIDER (smtp, console or an anymail provider) or EMAIL_BACKEND; ANYMAIL_* for a provider's
# API (config/email.py).
EMAIL_BACKEND = email_backend("smtp" if PRODUCTION else "console")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Pulse <pulse@localhost>")
ANYMAIL = anymail_settings()
# The port `make run` serves on (Procfile.dev); the default base URL follows it.
PULSE_PORT = env_int("PULSE_PORT", 8000, minimum=1)
PULSE_BASE_URL = env_str("PULSE_BASE_URL", f"http://127.0.0.1:{PULSE_PORT}").rstrip("/")

# --- PagerDuty (docs/oncall.md §6) ----------------------------------------------------------------------
# The REST API's service regions an admin may choose; tests add their local server. Pacing: requests a
# minute per API key, below PagerDuty's 960; PULSE_PAGERDUTY_PACING_URL (default: the cache's Redis) holds
# the shared limiter, so all workers together keep to it. Without Redis each process paces itself.
PULSE_PAGERDUTY_API_URLS = ["https://api.pagerduty.com", "https://api.eu.pagerduty.com"]
PULSE_PAGERDUTY_REQUESTS_PER_MINUTE = env_int("PULSE_PAGERDUTY_REQUESTS_PER_MINUTE", 940, minimum=1)
PULSE_PAGERDUTY_PACING_URL = env_str("PULSE_PAGERDUTY_PACING_URL") or CACHE_URL
# A CA bundle to trust instead of the system's (a TLS-inspecting proxy; the tests' local server).
PULSE_PAGERDUTY_CA_BUNDLE = env_str("PULSE_PAGERDUTY_CA_BUNDLE")

# --- Check-ins in Slack (docs/operations.md §16) --------------------------------------------------------
# The Slack Web API's base URL (tests point it at a local server that speaks the same methods); the app's
# signing secret for a multi-workspace app (a single-workspace app's secret is pasted on /manage/slack/ and
# stored sealed); the app-level token (xapp-…) that `manage.py pulse_slack_socket` connects with.
PULSE_SLACK_API_URL = env_str("PULSE_SLACK_API_URL", "https://slack.com/api/")
PULSE_SLACK_SIGNING_SECRET = env_str("PULSE_SLACK_SIGNING_SECRET")
PULSE_SLACK_APP_TOKEN = env_str("PULSE_SLACK_APP_TOKEN")
# Seconds between two messages to one workspace (Slack allows about one a second per channel).
PULSE_SLACK_PACE_SECONDS = float(env_str("PULSE_SLACK_PACE_SECONDS", "1.0"))

# --- Auth and security ---------------------------------------------------------------------------------
# Argon2id (RFC 9106; the Password Hashing Competition's winner, OWASP's first choice) for every new
# password, with Django's parameters (2 passes over 100 MiB, 8 lanes). Hashes made with PBKDF2 before are
# still checked, and rewritten as Argon2 at the person's next successful sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
# Sessions end when the browser closes, after PULSE_SESSION_IDLE_SECONDS without a request, and at the
# latest PULSE_SESSION_ABSOLUTE_SECONDS after sign-in, however active (pulse/middleware.py).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
PULSE_SESSION_IDLE_SECONDS = env_int("PULSE_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
PULSE_SESSION_ABSOLUTE_SECONDS = SESSION_COOKIE_AGE
# Sign-in rate limits, "<attempts>/<seconds>" per key, counted in the cache (Redis in production). When
# the cache is down they are not enforced and a warning is logged (pulse/ratelimit.py says why).
PULSE_RATE_LIMITS = {
    "login_ip": env_str("PULSE_RATE_LOGIN_IP", "30/900"),
    "login_user": env_str("PULSE_RATE_LOGIN_USER", "10/900"),
    "link_ip": env_str("PULSE_RATE_LINK_IP", "20/900"),
    "link_email": env_str("PULSE_RATE_LINK_EMAIL", "5/900"),
    "token_ip": env_str("PULSE_RATE_TOKEN_IP", "30/900"),
    # The API (pulse/api/throttles.py): requests per signed-in user, and unauthenticated requests (check-in
    # submissions) per client address; raise the latter when many people answer from behind one NAT.
    "api_user": env_str("PULSE_RATE_API_USER", "1200/60"),
    "api_anon_ip": env_str("PULSE_RATE_API_ANON_IP", "300/60"),
}
for _name, _rate in PULSE_RATE_LIMITS.items():
    _count, _, _seconds = _rate.partition("/")
    if not (_count.isdigit() and _seconds.isdigit() and int(_count) > 0 and int(_seconds) > 0):
        raise ImproperlyConfigured(f"{_name} rate limit must be <attempts>/<seconds>, e.g. 10/900: {_rate!r}")
PULSE_RATE_LIMIT_CACHE = "default"
# How many X-Forwarded-For entries our own proxies add (0: clients connect directly; use REMOTE_ADDR). In
# production it must be said: behind a proxy, 0 makes every client share the proxy's address, so one
# client's failed sign-ins would slow everyone's; a count too high lets clients pick their own address.
if PRODUCTION and not env_str("PULSE_TRUSTED_PROXY_COUNT"):
    raise ImproperlyConfigured(
        "PULSE_TRUSTED_PROXY_COUNT is required when PULSE_ENV=production: the number of proxies in front of "
        "Pulse that append to X-Forwarded-For (1 for one load balancer or reverse proxy; 0 if clients "
        "connect directly)"
    )
PULSE_TRUSTED_PROXY_COUNT = env_int("PULSE_TRUSTED_PROXY_COUNT", 0, minimum=0)
CSRF_COOKIE_HTTPONLY = True
# Content Security Policy (django-csp): scripts, styles, images and fonts only from Pulse's own origin, no
# inline script or style anywhere (tests/browser/test_csp.py visits every main page and fails on any
# violation), no plugins, no framing, no <base> rewriting. Images may also be data: URLs (Django admin's and
# Swagger UI's icons are SVGs embedded in their stylesheets).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    DEBUG = False
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
    SILENCED_SYSTEM_CHECKS: list[str] = []

# --- REST API ------------------------------------------------------------------------------------------
# API tokens (pulse.models.api_tokens): a new token lives PULSE_API_TOKEN_DAYS unless its maker asks for
# fewer or more days, at most PULSE_API_TOKEN_MAX_DAYS.
PULSE_API_TOKEN_MAX_DAYS = env_int("PULSE_API_TOKEN_MAX_DAYS", 365, minimum=1)
PULSE_API_TOKEN_DAYS = env_int("PULSE_API_TOKEN_DAYS", 90, minimum=1)
if PULSE_API_TOKEN_DAYS > PULSE_API_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured("PULSE_API_TOKEN_DAYS must not be more than PULSE_API_TOKEN_MAX_DAYS")
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes an unauthenticated request a 401, not a 403. Tokens are
    # stored hashed, expire and are revocable (pulse.models.api_tokens).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pulse.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # 429 with Retry-After past PULSE_RATE_LIMITS["api_user"] / ["api_anon_ip"]; the check-in API included.
    "DEFAULT_THROTTLE_CLASSES": ["pulse.api.throttles.UserThrottle", "pulse.api.throttles.AnonymousThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with a depth limit (pulse/api/parsers.py; the size limit is Django's); forms as DRF has them.
    "DEFAULT_PARSER_CLASSES": [
        "pulse.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "pulse.api.pagination.Cursor",
    "PAGE_SIZE": 50,
    # One error format: {"errors": {field: [messages]}} for 400, {"detail": message} otherwise.
    "EXCEPTION_HANDLER": "pulse.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pulse API",
    "DESCRIPTION": "Anonymous team check-ins: configuration, answering and disclosure-controlled results.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "QuestionKindEnum": "surveys.definitions.KINDS",
        "FlagReasonEnum": "pulse.models.flags.Flag.Kind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pulse.api.errors.document_media_type_errors",
        "pulse.api.throttles.document_throttling",
    ],
}

# --- Internationalisation ------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
# Another language is a catalogue under locale/ plus its code here, nothing else (docs/languages.md §5).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production serves STATIC_ROOT (manage.py collectstatic); development and tests find each file in the apps'
# static folders at request time, so no collectstatic is needed and an edited file is served at once.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Files served at the site's root in every environment: favicon.ico (browsers ask for it on every page).
WHITENOISE_ROOT = BASE_DIR / "pulse" / "public"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Pulse ---------------------------------------------------------------------------------------------
PULSE_DEFAULT_MIN_GROUP_SIZE = 5
PULSE_MIN_GROUP_SIZE_FLOOR = 3
# What the minute tick does, in order. Each step claims its own due rows in bounded batches.
PULSE_TICK_STEPS = [
    "surveys.services.rounds.rounds_open_due",
    "surveys.services.slack_delivery.slack_messages_plan",
    "surveys.services.emails.emails_send_due",
    "surveys.services.slack_delivery.slack_messages_send_due",
    "surveys.services.counting.rounds_close_due",
    "surveys.services.counting.round_keys_sweep",
    "pulse.services.aggregation.rounds_aggregate_due",
    "pulse.services.retention.comments_delete_expired",
    # Trends after aggregation; escalations before delivery, so they go out in the same tick.
    "pulse.services.trends.trends_run_due",
    "pulse.services.escalation.flags_escalate_due",
    # You said, we did: the team summaries and the no-action reminders, queued, then sent.
    "pulse.services.team_results.team_summaries_queue_due",
    "pulse.services.team_results.no_action_reminders_queue_due",
    "pulse.services.notifications.notifications_send_due",
    "pulse.services.team_results.team_results_emails_send_due",
    "pulse.services.team_summary_slack.team_summary_slack_send_due",
    # Sign-in links and email-change messages queued by requests (also sent at once by a woken worker).
    "pulse.services.auth_emails.auth_emails_send_due",
]
# Which queue's drains run each step (surveys/services/tick.py); a step not named here is "closing". A
# backlog on one queue never delays another: a slow mail server holds "sending" only.
PULSE_STEP_QUEUES: dict[str, list[str]] = {
    "sending": [
        "surveys.services.slack_delivery.slack_messages_plan",
        "surveys.services.emails.emails_send_due",
        "surveys.services.slack_delivery.slack_messages_send_due",
        "pulse.services.notifications.notifications_send_due",
        "pulse.services.auth_emails.auth_emails_send_due",
        "pulse.services.team_results.team_results_emails_send_due",
        "pulse.services.team_summary_slack.team_summary_slack_send_due",
    ],
    "trends": [
        "pulse.services.trends.trends_run_due",
        "pulse.services.escalation.flags_escalate_due",
        "pulse.services.team_results.no_action_reminders_queue_due",
    ],
}
# Drains each tick enqueues per queue: how many workers (processes × threads) may share that queue's work.
# Set it to at least the total concurrency of the workers consuming the queue; extra drains find nothing
# to claim and end at once.
PULSE_QUEUE_FANOUT = {
    "sending": env_int("PULSE_SENDING_FANOUT", 8, minimum=1),
    "closing": env_int("PULSE_CLOSING_FANOUT", 2, minimum=1),
    "trends": 1,
}
# How long one drain keeps taking batches (seconds): less than the tick's minute, so drains never pile up.
PULSE_DRAIN_SECONDS = env_int("PULSE_DRAIN_SECONDS", 50, minimum=1)
# Free-text comments are deleted this many days after their round was counted (counts are kept).
PULSE_COMMENT_RETENTION_DAYS = env_int("PULSE_COMMENT_RETENTION_DAYS", 365, minimum=1)
# Trends and flags (docs/science.md §3): rounds per trend window, fewest usable rounds for a trend test, the
# Benjamini–Hochberg false discovery rate; unacknowledged flags escalate after this many days.
PULSE_TREND_WINDOW = env_int("PULSE_TREND_WINDOW", 12, minimum=6)
PULSE_TREND_MIN_ROUNDS = 6  # docs/science.md §3.1: no trend test on fewer usable rounds; not configurable
PULSE_TREND_FDR = 0.10
PULSE_FLAG_ESCALATE_AFTER_DAYS = env_int("PULSE_FLAG_ESCALATE_AFTER_DAYS", 7, minimum=1)
# A team's results summary goes to its members this long after the round's results are in: time for the
# leader to write a note and plan actions (docs/operations.md §17). 0 sends it at the next tick.
PULSE_TEAM_SUMMARY_DELAY_HOURS = env_int("PULSE_TEAM_SUMMARY_DELAY_HOURS", 48, minimum=0)
# Flag emails below an alert wait for the leader's digest, at this hour in the organisation's time zone:
# every day, or once a week when a weekday (0 = Monday … 6) is set.
PULSE_FLAG_DIGEST_WEEKDAY: int | None = (
    env_int("PULSE_FLAG_DIGEST_WEEKDAY", 0, minimum=0)
    if env_str("PULSE_FLAG_DIGEST_WEEKDAY").strip()
    else None
)
PULSE_FLAG_DIGEST_HOUR = env_int("PULSE_FLAG_DIGEST_HOUR", 9, minimum=0)
if (PULSE_FLAG_DIGEST_WEEKDAY or 0) > 6 or PULSE_FLAG_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(
        "PULSE_FLAG_DIGEST_WEEKDAY must be empty (daily) or 0–6, and PULSE_FLAG_DIGEST_HOUR 0–23"
    )
# Seconds a Slack or webhook request may take before it counts as a temporary failure.
PULSE_NOTIFICATION_TIMEOUT = env_int("PULSE_NOTIFICATION_TIMEOUT", 10, minimum=1)
# GET /metrics (pulse/metrics.py) answers only with "Authorization: Bearer <this>"; unset, it is a 404.
PULSE_METRICS_TOKEN = env_str("PULSE_METRICS_TOKEN").strip()
if PULSE_METRICS_TOKEN and len(PULSE_METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("PULSE_METRICS_TOKEN must be at least 24 characters (openssl rand -hex 32)")

# --- Single sign-on (OpenID Connect; pulse/web/oidc.py, docs/operations.md §14) -------------------------
# mozilla-django-oidc's code flow with PKCE, state and nonce; the endpoints and keys come from the issuer's
# discovery document at sign-in time. The password backend first: it refuses organisations that switched
# passwords off (pulse/web/backends.py); email links and single sign-on log in through their own.
PULSE_OIDC_ISSUER = env_str("PULSE_OIDC_ISSUER").strip().rstrip("/")
PULSE_OIDC_ORGANISATION = env_str("PULSE_OIDC_ORGANISATION").strip()
PULSE_OIDC_PROVIDER_NAME = env_str("PULSE_OIDC_PROVIDER_NAME", "your identity provider").strip()
PULSE_OIDC_EMAIL_CLAIM = env_str("PULSE_OIDC_EMAIL_CLAIM", "email").strip()
OIDC_RP_CLIENT_ID = env_str("PULSE_OIDC_CLIENT_ID").strip()
OIDC_RP_CLIENT_SECRET = env_str("PULSE_OIDC_CLIENT_SECRET").strip()
OIDC_RP_SCOPES = env_str("PULSE_OIDC_SCOPES", "openid email").strip()
OIDC_RP_SIGN_ALGO = env_choice("PULSE_OIDC_SIGN_ALGO", "RS256", ("RS256", "ES256", "PS256"))
OIDC_TIMEOUT = env_int("PULSE_OIDC_TIMEOUT", 10, minimum=1)
if PULSE_OIDC_ISSUER:
    for _name, _value in (
        ("PULSE_OIDC_CLIENT_ID", OIDC_RP_CLIENT_ID),
        ("PULSE_OIDC_CLIENT_SECRET", OIDC_RP_CLIENT_SECRET),
        ("PULSE_OIDC_ORGANISATION", PULSE_OIDC_ORGANISATION),
    ):
        if not _value:
            raise ImproperlyConfigured(f"{_name} is required when PULSE_OIDC_ISSUER is set")
    if "openid" not in OIDC_RP_SCOPES.split():
        raise ImproperlyConfigured(f"PULSE_OIDC_SCOPES must include openid, got {OIDC_RP_SCOPES!r}")
    if PRODUCTION and not PULSE_OIDC_ISSUER.startswith("https://"):
        raise ImproperlyConfigured("PULSE_OIDC_ISSUER must be an https:// URL when PULSE_ENV=production")
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_CREATE_USER = False  # people come from the organisation's roster, never from the provider
AUTHENTICATION_BACKENDS = ["pulse.web.backends.PasswordBackend", "pulse.web.oidc.Backend"]

# --- Logging -------------------------------------------------------------------------------------------
# Plain lines or one JSON object a line (config/logs.py); in both, tokens in check-in and sign-in URLs are
# never logged (config/logging_filters.py).
PULSE_LOG_FORMAT = env_choice("PULSE_LOG_FORMAT", "plain", FORMATS)
LOGGING = logging_config(log_format=PULSE_LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
