"""gqlgov settings: one module, every knob from the environment (see .env.example).

With nothing set the service runs on the embedded default: SQLite in ./var, no Redis,
Celery tasks executed in-process. `GQLGOV_ENV=production` refuses to start without the
settings a real deployment needs.
"""

import contextlib
import importlib.util
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

GQLGOV_ENV = env.str("GQLGOV_ENV", default="development")
IS_PRODUCTION = GQLGOV_ENV == "production"

if IS_PRODUCTION:
    _missing = [name for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS") if not env.str(name, "")]
    if _missing:
        raise ImproperlyConfigured(
            "GQLGOV_ENV=production refuses to start without: " + ", ".join(_missing)
        )

DATA_DIR = Path(env.str("GQLGOV_DATA_DIR", default=str(BASE_DIR / "var")))
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-never-used-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "gqlgov.console.apps.GqlgovAdminConfig",  # django.contrib.admin with gqlgov's AdminSite (roles, custom pages)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "mozilla_django_oidc",
    "axes",
    "agents",
    "policies",
    "policies.gateway",
]

# `manage.py bench` is developer tooling in tools/bench, outside the product packages and the image:
# installed wherever a checkout's tools/ is importable (manage.py, pytest and the bench's own
# servers run from the repository root), absent elsewhere (ImportError: no `tools` package at all).
with contextlib.suppress(ImportError):
    if importlib.util.find_spec("tools.bench"):
        INSTALLED_APPS.append("tools.bench")

MIDDLEWARE = [
    "gqlgov.security.ForwardedProtoMiddleware",  # before anything asks request.is_secure()
    "gqlgov.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "gqlgov.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into agents.lockout.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gqlgov.urls"
WSGI_APPLICATION = "gqlgov.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gqlgov" / "console" / "templates"],  # the console's pages and the admin it restyles
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gqlgov.context_processors.login_options",
            ],
            # The console's value filters ({% load gqlgov_values %}: yaml, json, graphql).
            "libraries": {"gqlgov_values": "gqlgov.console.templatetags.gqlgov_values"},
        },
    },
]

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'gqlgov.sqlite3'}"
    )
}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# `manage.py runserver` (and rundemo, which calls it) serves each request on a new thread, and a
# persistent connection is per thread: each request would leave one open for CONN_MAX_AGE, and a
# burst of checks exhausted PostgreSQL's max_connections. No persistent connections there.
RUNNING_DEV_SERVER = sys.argv[1:2] in (["runserver"], ["rundemo"])
DATABASES["default"]["CONN_MAX_AGE"] = 0 if RUNNING_DEV_SERVER else env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", default=True):
    # Django's psycopg pool, one per process: the process never holds more than max_size
    # connections, however many threads it runs (a gunicorn sync worker needs one). A request
    # waits at most `timeout` for one (then 503 DATABASE_UNAVAILABLE): while the database is away,
    # that is how long each check waits. The pool retries a failed connection for as long, with
    # backoff, then gives up until the next request asks: left at psycopg's 5 minutes, its backoff
    # grew to 8 s and more in an outage, and workers kept answering 503 seconds after the
    # database was back. Pooled connections are the persistent ones, so CONN_MAX_AGE must be 0.
    _pool_timeout_s = env.float("DATABASE_POOL_TIMEOUT_S", default=3.0)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
        "timeout": _pool_timeout_s,
        "reconnect_timeout": _pool_timeout_s,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE transactions take the
    # write lock up front so two writers queue instead of failing on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# REDIS_URL names one node of a Redis Cluster (database 0): rate limits, the identity cache's
# generation and the decision stream go through a cluster client. Celery cannot use a cluster
# (kombu does not support it): give it a plain Redis in CELERY_BROKER_URL.
REDIS_CLUSTER = bool(REDIS_URL) and env.bool("REDIS_CLUSTER", default=False)
# Further cluster nodes (host:port, comma-separated) to discover the cluster from when REDIS_URL's is down.
REDIS_CLUSTER_NODES = env.list("REDIS_CLUSTER_NODES", default=[])
if REDIS_CLUSTER and urlsplit(REDIS_URL).path.strip("/") not in ("", "0"):
    raise ImproperlyConfigured("REDIS_CLUSTER: a Redis Cluster has database 0 only; end REDIS_URL with /0 or nothing")
if REDIS_URL and not REDIS_CLUSTER:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Django's Redis cache cannot use a cluster; nothing in gqlgov shares data through this cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Writes that must survive a Redis failover (decision records on the stream, identity-cache
# generation bumps) wait (WAIT) for this many replicas, at most GQLGOV_REDIS_WAIT_MS; a decision
# record not confirmed in time is stored in the database before the check answers. 0: no waiting.
# Keep the wait under the web client's 0.5 s socket timeout.
_wait_replicas = env.str("GQLGOV_REDIS_WAIT_REPLICAS", default="").strip()
GQLGOV_REDIS_WAIT_REPLICAS = int(_wait_replicas) if _wait_replicas else int(REDIS_CLUSTER)
GQLGOV_REDIS_WAIT_MS = env.int("GQLGOV_REDIS_WAIT_MS", default=100)

# Celery: Redis as broker in deployments; the embedded default runs tasks in-process.
# (Empty counts as unset, as .env.example leaves it.)
_celery_broker = env.str("CELERY_BROKER_URL", default="") or ("" if REDIS_CLUSTER else REDIS_URL)
if IS_PRODUCTION and REDIS_CLUSTER and not _celery_broker:
    raise ImproperlyConfigured("REDIS_CLUSTER in production needs CELERY_BROKER_URL (a plain Redis for Celery)")
CELERY_BROKER_URL = _celery_broker or "memory://"
CELERY_RESULT_BACKEND = _celery_broker or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not _celery_broker)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An unacknowledged task (its worker died) is redelivered after this many seconds (Redis broker).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=3600)}

# --- API Gateway export (policies/gateway) ---------------------------------------------
# How often Celery beat runs policies.detect_drift, in seconds.
GQLGOV_DRIFT_INTERVAL_S = env.int("GQLGOV_DRIFT_INTERVAL_S", default=900)
CELERY_BEAT_SCHEDULE = {
    "policies.detect_drift": {"task": "policies.detect_drift", "schedule": float(GQLGOV_DRIFT_INTERVAL_S)},
    # Approval requests past their expiry are marked (and audited) expired within a minute, not
    # only when someone next reads them.
    "policies.expire_approvals": {"task": "policies.expire_approvals", "schedule": 60.0},
}
# Attempts per AWS call (botocore standard retry mode: exponential backoff with jitter).
GQLGOV_AWS_MAX_ATTEMPTS = env.int("GQLGOV_AWS_MAX_ATTEMPTS", default=8)
# Task-level retries of an export after botocore gave up on throttling or 5xx.
GQLGOV_EXPORT_MAX_RETRIES = env.int("GQLGOV_EXPORT_MAX_RETRIES", default=10)
# A run's claim on its target lapses this long after its last AWS call (a dead worker's claim expires).
GQLGOV_EXPORT_LEASE_S = env.int("GQLGOV_EXPORT_LEASE_S", default=300)
# Seconds before an export retries while another export holds its target.
GQLGOV_EXPORT_BUSY_RETRY_S = env.int("GQLGOV_EXPORT_BUSY_RETRY_S", default=10)
# An identity change (an agent created, suspended, resumed, its kind, groups or IAM role changed)
# exports the targets the agent appears in this many seconds later; changes meanwhile join that export.
GQLGOV_IDENTITY_EXPORT_DEBOUNCE_S = env.float("GQLGOV_IDENTITY_EXPORT_DEBOUNCE_S", default=2.0)
# Rotate the target's KMS key on demand after each successful deployment (AWS caps on-demand rotations).
GQLGOV_KMS_ROTATE_ON_DEPLOY = env.bool("GQLGOV_KMS_ROTATE_ON_DEPLOY", default=True)
# The verifier package zip (manage.py build_verifier_package) that authorizer-mode targets deploy.
GQLGOV_AUTHORIZER_ZIP = env.str("GQLGOV_AUTHORIZER_ZIP", default="") or str(DATA_DIR / "gqlgov-verify-lambda.zip")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# The console's stylesheet and script (the console is not an app of its own, so list its folder).
STATICFILES_DIRS = [BASE_DIR / "gqlgov" / "console" / "static"]
# The embedded SQLite database and collected static files live here; create it on first start.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
# Never Django's SECURE_PROXY_SSL_HEADER, which believes X-Forwarded-Proto from any client:
# gqlgov.security.ForwardedProtoMiddleware believes it from GQLGOV_TRUSTED_PROXIES only.
SECURE_PROXY_SSL_HEADER = None
# Strict-Transport-Security on HTTPS answers (SecurityMiddleware); a year in production, off otherwise.
SECURE_HSTS_SECONDS = env.int("GQLGOV_HSTS_SECONDS", default=31_536_000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("GQLGOV_HSTS_INCLUDE_SUBDOMAINS", default=False)
# Content-Security-Policy of every HTML page (gqlgov/security.py; not sent while DEBUG). The admin has
# no inline scripts (gqlgov/console/static/gqlgov/admin.js); inline style attributes are allowed. Empty: none.
GQLGOV_CSP = env.str(
    "GQLGOV_CSP",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

# --- Request limits -------------------------------------------------------------------
GQLGOV_MAX_BODY_BYTES = env.int("GQLGOV_MAX_BODY_BYTES", default=256 * 1024)
# Schema registration (POST /api/v1/schemas/{name}/versions) has its own, larger body limit, and a
# token limit: building a schema costs ~30 µs a token here, so 300,000 tokens (six GitHubs) take
# ~9 s; a registration may build the previous version too (for the diff), inside the 30 s timeout.
GQLGOV_MAX_SCHEMA_BYTES = env.int("GQLGOV_MAX_SCHEMA_BYTES", default=8 * 1024 * 1024)
GQLGOV_MAX_SCHEMA_TOKENS = env.int("GQLGOV_MAX_SCHEMA_TOKENS", default=300_000)
# An OpenAPI document (POST /api/v1/apis/{name}/versions, register_openapi) is validated at ~4 µs a
# byte here (1.3 MB, 4,000 routes: 4.9 s), so 2 MiB take ~8 s, inside the 30 s timeout.
GQLGOV_MAX_OPENAPI_BYTES = env.int("GQLGOV_MAX_OPENAPI_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(GQLGOV_MAX_BODY_BYTES, GQLGOV_MAX_SCHEMA_BYTES)
# Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (gqlgov/security.py); everyone
# else's client address is the socket peer and their scheme the socket's.
GQLGOV_TRUSTED_PROXIES = env.list("GQLGOV_TRUSTED_PROXIES", default=[])

# --- The pre-check -------------------------------------------------------------------
# GraphQL documents longer than this are denied (DOCUMENT_TOO_LARGE) before parsing.
GQLGOV_MAX_DOCUMENT_BYTES = env.int("GQLGOV_MAX_DOCUMENT_BYTES", default=64 * 1024)
# Server-wide hard caps that bound every policy limit.
GQLGOV_HARD_CAPS = {
    "max_depth": env.int("GQLGOV_CAP_MAX_DEPTH", default=50),
    "max_aliases": env.int("GQLGOV_CAP_MAX_ALIASES", default=500),
    "max_root_fields": env.int("GQLGOV_CAP_MAX_ROOT_FIELDS", default=100),
    "max_tokens": env.int("GQLGOV_CAP_MAX_TOKENS", default=8000),
    "max_directives": env.int("GQLGOV_CAP_MAX_DIRECTIVES", default=500),
    "max_cost": env.int("GQLGOV_CAP_MAX_COST", default=1_000_000),
}
# Size assumed for a list field without @listSize information, and the base cost of a mutation.
GQLGOV_DEFAULT_LIST_SIZE = env.int("GQLGOV_DEFAULT_LIST_SIZE", default=10)
GQLGOV_MUTATION_BASE_COST = env.int("GQLGOV_MUTATION_BASE_COST", default=10)
# Per-process cache of analysed documents, in bytes.
GQLGOV_ANALYSIS_CACHE_BYTES = env.int("GQLGOV_ANALYSIS_CACHE_BYTES", default=64 * 1024 * 1024)
# Per-process cache of validated document shapes (literals lifted out), in bytes and entries; 0 turns it off.
GQLGOV_SHAPE_CACHE_BYTES = env.int("GQLGOV_SHAPE_CACHE_BYTES", default=64 * 1024 * 1024)
GQLGOV_SHAPE_CACHE_ENTRIES = env.int("GQLGOV_SHAPE_CACHE_ENTRIES", default=4096)
# Reuse a decision no rule condition took part in, for the same document, policy version and agent.
GQLGOV_DECISION_CACHE = env.bool("GQLGOV_DECISION_CACHE", default=True)
# How often a web process re-reads which policy version is active, in seconds.
GQLGOV_POLICY_REFRESH_S = env.float("GQLGOV_POLICY_REFRESH_S", default=1.0)

# --- Signed decisions (policies/signing) -----------------------------------------------
# The issuer (`iss`) of decision tokens: the URL agents and verifiers reach gqlgov at.
GQLGOV_PUBLIC_URL = env.str("GQLGOV_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# Seconds a decision token is valid (its `exp` is `iat` plus this).
GQLGOV_DECISION_TOKEN_TTL_S = env.int("GQLGOV_DECISION_TOKEN_TTL_S", default=60)
if GQLGOV_DECISION_TOKEN_TTL_S < 1:
    raise ImproperlyConfigured("GQLGOV_DECISION_TOKEN_TTL_S must be at least 1 second")
# Human approval (policies/approvals): seconds a request waits for its approvals and, once approved,
# for the agent's one use, unless its rule says `approval.expires_in`.
GQLGOV_APPROVAL_TTL_S = env.int("GQLGOV_APPROVAL_TTL_S", default=3600)
if GQLGOV_APPROVAL_TTL_S < 60:
    raise ImproperlyConfigured("GQLGOV_APPROVAL_TTL_S must be at least 60 seconds")
# At most this many characters of an agent's `context.reason` are kept with its approval request.
GQLGOV_APPROVAL_REASON_MAX_CHARS = env.int("GQLGOV_APPROVAL_REASON_MAX_CHARS", default=1000)
# Where approval requests and their decisions are announced (Slack-compatible JSON), for every schema
# without a webhook of its own; signed with X-Gqlgov-Signature: sha256=<HMAC-SHA256 of the body>.
GQLGOV_APPROVAL_WEBHOOK_URL = env.str("GQLGOV_APPROVAL_WEBHOOK_URL", default="")
GQLGOV_APPROVAL_WEBHOOK_SECRET = env.str("GQLGOV_APPROVAL_WEBHOOK_SECRET", default="")
GQLGOV_APPROVAL_WEBHOOK_TIMEOUT_S = env.float("GQLGOV_APPROVAL_WEBHOOK_TIMEOUT_S", default=5.0)
GQLGOV_APPROVAL_WEBHOOK_RETRIES = env.int("GQLGOV_APPROVAL_WEBHOOK_RETRIES", default=6)
# An AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY) that signs decision tokens; the private key
# never leaves KMS. Empty: gqlgov holds the signing key, encrypted at rest (below).
GQLGOV_DECISION_SIGNING_KMS_KEY_ID = env.str("GQLGOV_DECISION_SIGNING_KMS_KEY_ID", default="")
# A symmetric KMS key wrapping (envelope encryption) the signing keys gqlgov holds. Empty: AES-GCM
# under a key derived from SECRET_KEY (HKDF), the embedded default without AWS.
GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID = env.str("GQLGOV_DECISION_KEY_WRAP_KMS_KEY_ID", default="")
# Region and endpoint of the KMS client for those two keys (the endpoint for moto or LocalStack only).
GQLGOV_DECISION_KMS_REGION = env.str("GQLGOV_DECISION_KMS_REGION", default="") or "us-east-1"
GQLGOV_DECISION_KMS_ENDPOINT_URL = env.str("GQLGOV_DECISION_KMS_ENDPOINT_URL", default="")

# Per-agent ceiling on denied checks (they never consume rate-limit budgets).
GQLGOV_DENIED_CHECKS_PER_MINUTE = env.int("GQLGOV_DENIED_CHECKS_PER_MINUTE", default=300)
# When Redis is unreachable: refuse checks with 503 (false, the default) or admit them unlimited (true).
GQLGOV_RATE_LIMIT_FAIL_OPEN = env.bool("GQLGOV_RATE_LIMIT_FAIL_OPEN", default=False)
# Prefix of the rate-limit keys in Redis (lets several deployments share one Redis).
GQLGOV_RATE_LIMIT_KEY_PREFIX = env.str("GQLGOV_RATE_LIMIT_KEY_PREFIX", default="gqlgov:rl:")

# --- Decision records and hot-path caches (policies/checks/records.py, agents/identity_cache.py) ---
# Append decision records to a Redis Stream before answering, drained into the database in
# batches (Celery beat policies.drain_decisions, or `manage.py drain_decisions --follow`);
# off: insert synchronously. Needs REDIS_URL; on by default in production.
_decision_stream = env.str("GQLGOV_DECISION_STREAM", default="").strip().lower()
GQLGOV_DECISION_STREAM = bool(REDIS_URL) and (_decision_stream in ("1", "true", "yes", "on") if _decision_stream
                                             else IS_PRODUCTION)
GQLGOV_DECISION_STREAM_KEY = env.str("GQLGOV_DECISION_STREAM_KEY", default="gqlgov:decisions")
GQLGOV_DECISION_DRAIN_INTERVAL_S = env.float("GQLGOV_DECISION_DRAIN_INTERVAL_S", default=1.0)
if GQLGOV_DECISION_STREAM:
    CELERY_BEAT_SCHEDULE["policies.drain_decisions"] = {
        "task": "policies.drain_decisions", "schedule": GQLGOV_DECISION_DRAIN_INTERVAL_S,
    }
# Cache API token -> principal per process, revalidated on every request against a Redis
# generation that suspend/revoke/rotate/update bump (needs REDIS_URL; off: one DB query per request).
GQLGOV_AUTH_CACHE = bool(REDIS_URL) and env.bool("GQLGOV_AUTH_CACHE", default=True)
# Bearer token for GET /api/v1/metrics (Prometheus); staff principals may always read it. Empty: staff only.
GQLGOV_METRICS_TOKEN = env.str("GQLGOV_METRICS_TOKEN", default="")

# --- API tokens -----------------------------------------------------------------------
# last_used_at is written at most once per this many seconds per token.
TOKEN_LAST_USED_RESOLUTION_S = env.int("TOKEN_LAST_USED_RESOLUTION_S", default=60)

# Principals in these groups may call staff endpoints (schema registration, exports).
GQLGOV_API_STAFF_GROUPS = env.list("GQLGOV_API_STAFF_GROUPS", default=["gqlgov-admins"])

# --- Agents authenticating with IdP-issued JWTs ---------------------------------------
AGENT_JWT_ISSUER = env.str("AGENT_JWT_ISSUER", default="")
AGENT_JWT_AUDIENCE = env.list("AGENT_JWT_AUDIENCE", default=[])
AGENT_JWT_JWKS_URL = env.str("AGENT_JWT_JWKS_URL", default="")
AGENT_JWT_ALGORITHMS = env.list("AGENT_JWT_ALGORITHMS", default=["RS256"])
AGENT_JWT_LEEWAY_S = env.int("AGENT_JWT_LEEWAY_S", default=30)
AGENT_JWT_JWKS_CACHE_S = env.int("AGENT_JWT_JWKS_CACHE_S", default=300)
AGENT_JWT_AUTO_PROVISION = env.bool("AGENT_JWT_AUTO_PROVISION", default=False)

# --- Human login to the admin (mozilla-django-oidc) -----------------------------------
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="your identity provider")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_USE_PKCE = True
# mozilla-django-oidc's views, answering 404 OIDC_NOT_CONFIGURED when OIDC is not set up.
OIDC_AUTHENTICATE_CLASS = "agents.oidc.AuthenticationRequestView"
OIDC_CALLBACK_CLASS = "agents.oidc.AuthenticationCallbackView"
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID and OIDC_OP_AUTHORIZATION_ENDPOINT)
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_GROUP_PREFIX = env.str("OIDC_GROUP_PREFIX", default="")
OIDC_GROUP_ALLOWLIST = env.list("OIDC_GROUP_ALLOWLIST", default=[])
OIDC_STAFF_GROUPS = env.list("OIDC_STAFF_GROUPS", default=[])
OIDC_SUPERUSER_GROUPS = env.list("OIDC_SUPERUSER_GROUPS", default=[])
LOCAL_LOGIN_ENABLED = env.bool("LOCAL_LOGIN_ENABLED", default=True)
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/admin/"
LOGOUT_REDIRECT_URL = "/admin/login/"

AUTHENTICATION_BACKENDS = ["agents.oidc.PrincipalOIDCBackend"] if OIDC_ENABLED else []
if LOCAL_LOGIN_ENABLED:
    # The lockout check runs before the password is looked at (agents/lockout.py, django-axes).
    AUTHENTICATION_BACKENDS[:0] = ["agents.lockout.PasswordLoginLockoutBackend"]
    AUTHENTICATION_BACKENDS.append("django.contrib.auth.backends.ModelBackend")
# Grants permissions (e.g. policies.approve_policyversion) by admin role; authenticates nobody.
AUTHENTICATION_BACKENDS.append("gqlgov.roles.RoleBackend")

# Brute-force lockout of local password logins (agents/lockout.py): a username from one client
# address is locked for GQLGOV_LOGIN_COOLOFF_SECONDS after GQLGOV_LOGIN_FAILURE_LIMIT failures in a row.
GQLGOV_LOGIN_FAILURE_LIMIT = env.int("GQLGOV_LOGIN_FAILURE_LIMIT", default=5)
GQLGOV_LOGIN_COOLOFF_SECONDS = env.int("GQLGOV_LOGIN_COOLOFF_SECONDS", default=900)
AXES_FAILURE_LIMIT = GQLGOV_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=GQLGOV_LOGIN_COOLOFF_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "gqlgov.middleware.client_ip"
AXES_WHITELIST_CALLABLE = "agents.lockout.is_not_a_password_login"
AXES_LOCKOUT_CALLABLE = "agents.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins: the audit trail is the record
AXES_ENABLE_ADMIN = False  # unlocking is `manage.py axes_reset_ip_username <ip> <username>`, not an admin delete
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]  # masked in axes' rows and logs
# Without local passwords there is nothing to lock out, hence no lockout backend for axes to find.
SILENCED_SYSTEM_CHECKS = [] if LOCAL_LOGIN_ENABLED else ["axes.W003"]

# Admin roles from identity-provider groups (see gqlgov/roles.py); superusers are admins.
GQLGOV_ROLE_GROUPS = {
    "viewer": env.list("GQLGOV_ROLE_VIEWER_GROUPS", default=["gqlgov-viewers"]),
    "editor": env.list("GQLGOV_ROLE_EDITOR_GROUPS", default=["gqlgov-editors"]),
    "approver": env.list("GQLGOV_ROLE_APPROVER_GROUPS", default=["gqlgov-approvers"]),
    "admin": env.list("GQLGOV_ROLE_ADMIN_GROUPS", default=["gqlgov-admins"]),
}

# --- Logging: one JSON object per line, with the request id ----------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "gqlgov.middleware.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "gqlgov.middleware.json_formatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # The connection pool logs every connection lent and returned at INFO; its failures are warnings.
        "psycopg.pool": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # failed logins and lockouts; not a line per successful login
    },
}
