"""Django settings of the Pilotage CRM.

Everything that differs between a laptop and a production server comes from the
environment: `DATABASE_URL` (or the `--db` option, which sets it), `PILOTAGE_SECRET_KEY`,
`PILOTAGE_ALLOWED_HOSTS`, `PILOTAGE_HOME` (where the embedded database lives).

Production (`PILOTAGE_PRODUCTION=1`, what `manage.py check --deploy` checks): the secret key
must come from `PILOTAGE_SECRET_KEY` and the hosts from `PILOTAGE_ALLOWED_HOSTS`; HTTPS only
(redirect, secure cookies, HSTS for `PILOTAGE_HSTS_SECONDS`, default one year;
`PILOTAGE_BEHIND_PROXY=1` trusts X-Forwarded-Proto from the reverse proxy that ends TLS).
Limits: `PILOTAGE_MAX_UPLOAD_BYTES` (imports, default 200 MB),
`PILOTAGE_MAX_REQUEST_BYTES` (API bodies, default 32 MB), `PILOTAGE_API_RATE_LIMIT`
(requests per minute per token or user, default 600).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pilotage.home import data_home, database_url, secret_key

BASE_DIR = Path(__file__).resolve().parent
DATA_HOME = data_home()

SECRET_KEY = secret_key()
DEBUG = os.environ.get("PILOTAGE_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("PILOTAGE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pilotage.web.crm",
    "pilotage.web.accounts",
    "pilotage.web.audit",
    "pilotage.web.api",
    # Django Ninja as an app: its Swagger UI is served from its own static files (no CDN).
    "ninja",
    "pilotage.web.dashboard",
    "pilotage.web.scoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "pilotage.web.api.middleware.ApiJsonErrorsMiddleware",
    "pilotage.web.api.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "pilotage.web.dashboard.middleware.StaleFiguresMiddleware",
]

ROOT_URLCONF = "pilotage.web.urls"
WSGI_APPLICATION = "pilotage.web.wsgi.application"

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
                "pilotage.web.dashboard.middleware.figures_updating",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(database_url(), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web app read while an import writes; a busy timeout instead of
    # "database is locked" errors under concurrent use.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, not memory, so that the analytical engine can open the same
    # database the CRM writes; one per test process, so that parallel runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_HOME / f"test-pilotage-{os.getpid()}.db")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every log-in goes through the throttled backend: 10 failures per 15 minutes per user name
# and per address lock further attempts (pilotage.web.accounts.ratelimit).
AUTHENTICATION_BACKENDS = ["pilotage.web.accounts.ratelimit.ThrottledModelBackend"]
PILOTAGE_LOGIN_MAX_FAILURES = int(os.environ.get("PILOTAGE_LOGIN_MAX_FAILURES", "10"))
PILOTAGE_LOGIN_WINDOW_SECONDS = 15 * 60
PILOTAGE_API_RATE_LIMIT = int(os.environ.get("PILOTAGE_API_RATE_LIMIT", "600"))
# Rate-limit counters and import progress live in the cache. The local-memory cache is
# right for one server process (`pilotage serve`: one process, threads); several processes
# need a shared cache here (Redis, or Django's database cache).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pilotage",
        # Per data version: a few dozen KPI results, plus one rule score per contact
        # page seen; results of older versions are dropped (dashboard.cache).
        "OPTIONS": {"MAX_ENTRIES": 5000},
    }
}
# KPI results are cached per data version; after a write, the server process recomputes
# what pages show by default (pilotage.web.dashboard.warming): "background" (a thread of
# the server, which also polls the data version for writes of other processes, such as
# `pilotage import`, every PILOTAGE_CACHE_WARMING_POLL_SECONDS), "sync" (in the thread
# that wrote, once committed: tests, or a cache shared with the command line) or "off".
PILOTAGE_CACHE_WARMING = os.environ.get("PILOTAGE_CACHE_WARMING", "background")
if PILOTAGE_CACHE_WARMING not in ("background", "sync", "off"):
    raise ImproperlyConfigured(
        f"PILOTAGE_CACHE_WARMING={PILOTAGE_CACHE_WARMING!r}: use background, sync or off"
    )
PILOTAGE_CACHE_WARMING_POLL_SECONDS = float(
    os.environ.get("PILOTAGE_CACHE_WARMING_POLL_SECONDS", "5")
)
# Cached results are also kept in files of the data folder, so that a restarted server
# serves what it computed before the restart (pilotage.web.dashboard.cache): "0" to stop.
PILOTAGE_RESULTS_ON_DISK = os.environ.get("PILOTAGE_RESULTS_ON_DISK", "1") != "0"
# A page whose figures take longer than this to compute answers with a page saying they
# are being computed, which reloads itself until they are (pilotage.web.dashboard.budget);
# empty: every page waits for its figures.
_budget = os.environ.get("PILOTAGE_PAGE_BUDGET_SECONDS", "1.5").strip()
try:
    PILOTAGE_PAGE_BUDGET_SECONDS = float(_budget) if _budget else None
except ValueError:
    PILOTAGE_PAGE_BUDGET_SECONDS = -1.0
if PILOTAGE_PAGE_BUDGET_SECONDS is not None and not PILOTAGE_PAGE_BUDGET_SECONDS >= 0:
    raise ImproperlyConfigured(
        f"PILOTAGE_PAGE_BUDGET_SECONDS={_budget!r}: use a number of seconds (1.5), or leave "
        "it empty for pages that wait for their figures"
    )

# Bounded requests: API bodies and uploads (pilotage.web.api.middleware).
PILOTAGE_MAX_REQUEST_BYTES = int(os.environ.get("PILOTAGE_MAX_REQUEST_BYTES", 32 * 1024 * 1024))
PILOTAGE_MAX_UPLOAD_BYTES = int(os.environ.get("PILOTAGE_MAX_UPLOAD_BYTES", 200 * 1024 * 1024))
PILOTAGE_MAX_IMPORT_BYTES = int(os.environ.get("PILOTAGE_MAX_IMPORT_BYTES", 2 * 1024**3))
DATA_UPLOAD_MAX_MEMORY_SIZE = PILOTAGE_MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # bigger uploads are spooled to disk

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Plotly's own bundle, straight from the installed `plotly` package (no CDN).
_PLOTLY_SPEC = importlib.util.find_spec("plotly")
_PLOTLY_DATA = Path(str(_PLOTLY_SPEC.origin if _PLOTLY_SPEC else "")).parent / "package_data"
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", _PLOTLY_DATA)]
# Serve straight from the installed package's static folders: no collectstatic step for
# an embedded install, and nothing is ever fetched from outside the server.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"

PRODUCTION = os.environ.get("PILOTAGE_PRODUCTION", "") == "1"
if PRODUCTION:
    if not os.environ.get("PILOTAGE_SECRET_KEY"):
        raise ImproperlyConfigured(
            "PILOTAGE_PRODUCTION=1 needs PILOTAGE_SECRET_KEY (50+ random characters)"
        )
    if not os.environ.get("PILOTAGE_ALLOWED_HOSTS"):
        raise ImproperlyConfigured(
            "PILOTAGE_PRODUCTION=1 needs PILOTAGE_ALLOWED_HOSTS (the server's host names)"
        )
    DEBUG = False
    SECURE_SSL_REDIRECT = os.environ.get("PILOTAGE_SSL_REDIRECT", "1") == "1"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("PILOTAGE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("PILOTAGE_HSTS_SUBDOMAINS", "1") == "1"
    SECURE_HSTS_PRELOAD = os.environ.get("PILOTAGE_HSTS_PRELOAD", "1") == "1"
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
    if os.environ.get("PILOTAGE_BEHIND_PROXY", "") == "1":
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
