"""No framework forced on another: a project with plain views (or Django Ninja) only does not
install Django REST framework, and the package never imports it there. Every module but the DRF
adapter's imports with `rest_framework` refused, and a plain-views project is served without it."""

import json
import os
import subprocess
import sys

from auth0_jwt.tests.async_server import PROJECT_ROOT, REFUSED, UvicornServer
from conftest import default_claims

# The DRF adapter: the only modules that may import rest_framework (schema.py through
# drf-spectacular).
DRF_MODULES = {
    "auth0_jwt.authentication",
    "auth0_jwt.exceptions",
    "auth0_jwt.permissions",
    "auth0_jwt.schema",
}
# Extras a project may not have installed: a module that needs one is skipped when it is absent.
OPTIONAL_EXTRAS = {"redis", "prometheus_client", "ninja"}
SETTINGS = "auth0_jwt.tests.django_views_settings"

IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys

from auth0_jwt.tests.async_server import RefuseImports

DRF_MODULES = set(sys.argv[1].split(","))
OPTIONAL = set(sys.argv[2].split(","))
sys.meta_path.insert(0, RefuseImports({"rest_framework"}))
import django

django.setup()
import auth0_jwt

imported, refused, optional = [], [], []
for module in pkgutil.walk_packages(auth0_jwt.__path__, "auth0_jwt."):
    if module.name.startswith("auth0_jwt.tests") or module.name in DRF_MODULES:
        continue
    try:
        importlib.import_module(module.name)
    except ModuleNotFoundError as exc:
        if exc.name not in OPTIONAL:
            raise
        optional.append(module.name)
    else:
        imported.append(module.name)
for name in sorted(DRF_MODULES):  # the finder works: the DRF adapter cannot be imported
    try:
        importlib.import_module(name)
    except ImportError:
        refused.append(name)
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "rest_framework")
print(json.dumps({"imported": imported, "refused": refused, "optional": optional, "drf": loaded}))
"""


def test_every_module_but_the_drf_adapter_imports_without_drf(tmp_path):
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(PROJECT_ROOT),
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "AUTH0_JWT_TEST_DATABASE": str(tmp_path / "unused.sqlite3"),
        "AUTH0_JWT_TEST_JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", IMPORT_EVERYTHING, ",".join(DRF_MODULES), ",".join(OPTIONAL_EXTRAS)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert modules["drf"] == []
    assert modules["refused"] == sorted(DRF_MODULES)
    expected = {
        "auth0_jwt.apps",
        "auth0_jwt.authenticator",
        "auth0_jwt.checks",
        "auth0_jwt.conf",
        "auth0_jwt.django",
        "auth0_jwt.dpop",
        "auth0_jwt.keystore",
        "auth0_jwt.models",
        "auth0_jwt.replay",
        "auth0_jwt.runtime",
        "auth0_jwt.token_cache",
        "auth0_jwt.users",
        "auth0_jwt.verifier",
        "auth0_jwt.views",
        "auth0_jwt.management.commands.check_auth0",
        "auth0_jwt.management.commands.inspect_token",
        "auth0_jwt.management.commands.mint_token",
    }
    assert expected <= set(modules["imported"]), modules


def test_a_plain_views_project_without_drf_is_served(tmp_path, jwks_server, make_token):
    with UvicornServer(
        SETTINGS,
        tmp_path / "uvicorn.log",
        refuse=["rest_framework"],
        AUTH0_JWT_TEST_DATABASE=str(tmp_path / "db.sqlite3"),
        AUTH0_JWT_TEST_JWKS_URL=jwks_server.jwks_url,
    ) as server:
        assert server.get("/django/public/").status == 200
        refused = server.get("/django/private/")
        token = make_token(scope="read:messages")
        answers = {
            path: server.get(path, Authorization=f"Bearer {token}")
            for path in ("/django/private/", "/django/async/private-scoped/", "/django/cbv/mixin/")
        }
        missing_scope = server.get(
            "/django/async/private-scoped/", Authorization=f"Bearer {make_token(scope='openid')}"
        )
        drf_path = server.get("/api/private/", Authorization=f"Bearer {token}")
    assert (refused.status, refused.body) == (
        401,
        b'{"detail":"Authentication credentials were not provided."}',
    )
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'
    assert refused.headers["Content-Type"] == "application/json"
    for path, answer in answers.items():
        assert answer.status == 200, (path, answer, server.log_text())
        assert json.loads(answer.body)["sub"] == default_claims()["sub"]
    assert missing_scope.status == 403
    assert missing_scope.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )
    assert drf_path.status == 404  # the DRF views are not routed in this project
    assert REFUSED not in server.log_text()  # nothing in the process tried to import DRF
