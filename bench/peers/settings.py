"""The reference projects of `make bench`: Django's `startproject` settings (production: DEBUG off)
with Django REST framework, and, when BENCH_PEER=simplejwt, djangorestframework-simplejwt's
`JWTStatelessUserAuthentication` on the bench's JWKS, configured as Auth0's DRF guidance does; when
BENCH_PEER=simplejwt_db, simplejwt's `JWTAuthentication` (the user read from the database); when
BENCH_PEER=quickstart, Auth0's current Django API quickstart (plain views with Authlib,
bench/peers/quickstart.py).

Not part of the service: the bench serves these with gunicorn's defaults and sync workers, as their
users would (`gunicorn bench.peers.wsgi -w N`).
"""

import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

# From here to DEFAULT_AUTO_FIELD: `django-admin startproject`'s settings, plus rest_framework.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.peers.urls"
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
WSGI_APPLICATION = "bench.peers.wsgi.application"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_PEER_DATABASE"]}
}
AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# simplejwt as Auth0's DRF guidance configures it, with JWK_URL on the bench's JWKS: its stateless
# class ("simplejwt"), or its default class ("simplejwt_db"), which reads the token's user from the
# database on every request, as this project does in its default (database) mode; Auth0's `sub`
# names the user by username.
SIMPLEJWT_CLASSES = {
    "simplejwt": "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
    "simplejwt_db": "rest_framework_simplejwt.authentication.JWTAuthentication",
}
if os.environ.get("BENCH_PEER") in SIMPLEJWT_CLASSES:
    INSTALLED_APPS.append("rest_framework_simplejwt")
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [SIMPLEJWT_CLASSES[os.environ["BENCH_PEER"]]],
    }
    SIMPLE_JWT = {
        "ALGORITHM": "RS256",
        "JWK_URL": os.environ["BENCH_PEER_JWKS_URL"],
        "AUDIENCE": os.environ["BENCH_PEER_AUDIENCE"],
        "ISSUER": os.environ["BENCH_PEER_ISSUER"],
        "LEEWAY": 60,
        "USER_ID_CLAIM": "sub",
        # Auth0 access tokens carry no simplejwt token-type claim.
        "TOKEN_TYPE_CLAIM": None,
    }
    if os.environ["BENCH_PEER"] == "simplejwt_db":
        SIMPLE_JWT["USER_ID_FIELD"] = "username"

if os.environ.get("BENCH_PEER") == "quickstart":
    ROOT_URLCONF = "bench.peers.quickstart"
