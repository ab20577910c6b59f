"""A Django Ninja project needs nothing of Django REST framework: with `rest_framework` neither in
INSTALLED_APPS nor importable, `Auth0Bearer` and `install()` answer as documented."""

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

NINJA_ONLY_PROJECT = """
import json, sys


class RefuseDRF:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "rest_framework":
            raise ImportError(f"imported {name}")
        return None


sys.meta_path.insert(0, RefuseDRF())
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "auth0_jwt"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF=__name__,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["testserver"],
    AUTH0={"DOMAIN": "tenant.example.test", "AUDIENCE": "https://api.example.test/"},
)
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import path
from ninja import NinjaAPI

from auth0_jwt.ninja import Auth0Bearer, install

api = NinjaAPI(auth=Auth0Bearer(scopes=["read:messages"]))
install(api)


@api.get("messages/")
def messages(request):
    return {}


urlpatterns = [path("api/", api.urls)]
call_command("check", fail_level="ERROR")
setup_test_environment()
response = Client().get("/api/messages/")
print(json.dumps({
    "status": response.status_code,
    "body": response.json(),
    "challenge": response["WWW-Authenticate"],
    "security": api.get_openapi_schema()["paths"]["/api/messages/"]["get"]["security"],
    "drf_imported": "rest_framework" in sys.modules,
}))
"""


def test_a_ninja_project_needs_no_django_rest_framework(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NINJA_ONLY_PROJECT],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "status": 401,
        "body": {"detail": "Authentication credentials were not provided."},
        "challenge": 'Bearer realm="api", DPoP algs="ES256"',
        "security": [{"Auth0Bearer": ["read:messages"]}],
        "drf_imported": False,
    }
