"""
Settings of a minimal Django project that runs Django OAuth Toolkit as the authorization server for
m2m-token's interoperability suite. Loopback only, DEBUG off, a throwaway SQLite database whose path
the test passes in M2M_INTEROP_DB.
"""
import os
import secrets

BASE_DIR = os.path.dirname(os.path.abspath(__file__))

# A fresh key per process: nothing signed outlives the test run.
SECRET_KEY = secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
    "interop_site",
]

MIDDLEWARE = [
    # Counts every request by method, path and status, for the tests' server-side assertions.
    "interop_site.counters.CountingMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "interop_site.urls"
WSGI_APPLICATION = "interop_site.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("M2M_INTEROP_DB", os.path.join(BASE_DIR, "interop.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

OAUTH2_PROVIDER = {
    "SCOPES": {
        "orders:read": "Read orders",
        "orders:write": "Write orders",
        "introspection": "Introspect tokens",
    },
    # A client credentials request without `scope` gets this.
    "DEFAULT_SCOPES": ["orders:read"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # Publishes the OpenID Connect discovery document at /o/.well-known/openid-configuration/ (the
    # only metadata DOT serves), so that the suite can try discovery against it.
    "OIDC_ENABLED": True,
}

# Errors go to stderr, which the test collects; nothing logs request bodies or headers.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
