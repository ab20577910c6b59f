"""The package stands alone: nothing in auth0_jwt imports the example service (auth0_django_example)
or its customers app, and every module imports in a project that has neither."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
PROJECT_ROOT = PACKAGE.parent
EXAMPLE_PACKAGES = {"auth0_django_example", "customers"}
# What the package's extras install (pyproject.toml): a module that needs one may be missing it.
OPTIONAL_EXTRAS = {"rest_framework", "drf_spectacular", "ninja", "redis", "prometheus_client"}


def package_modules() -> list[Path]:
    """The package's own source files (its tests excluded: they are not installed)."""
    return sorted(
        path for path in PACKAGE.rglob("*.py") if "tests" not in path.relative_to(PACKAGE).parts
    )


def imported_top_levels(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_the_package_imports_the_example():
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(imported_top_levels(path) & EXAMPLE_PACKAGES)
        for path in package_modules()
        if imported_top_levels(path) & EXAMPLE_PACKAGES
    }
    assert offenders == {}
    assert len(package_modules()) > 15  # the scan saw the package


IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys

EXAMPLE = {"auth0_django_example", "customers"}
OPTIONAL = set(sys.argv[1].split(","))


class RefuseTheExample:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXAMPLE:
            raise ImportError(f"auth0_jwt imported {name}")
        return None


sys.meta_path.insert(0, RefuseTheExample())
import django

django.setup()
import auth0_jwt

imported, optional = [], []
for module in pkgutil.walk_packages(auth0_jwt.__path__, "auth0_jwt."):
    if module.name.startswith("auth0_jwt.tests"):
        continue
    try:
        importlib.import_module(module.name)
    except ModuleNotFoundError as exc:
        if exc.name not in OPTIONAL:
            raise
        optional.append(module.name)
    else:
        imported.append(module.name)
print(json.dumps({"imported": imported, "optional": optional}))
"""


def test_every_module_imports_in_a_project_without_the_example(tmp_path):
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(PROJECT_ROOT),
        "DJANGO_SETTINGS_MODULE": "auth0_jwt.tests.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, ",".join(sorted(OPTIONAL_EXTRAS))],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert modules["optional"] in ([], ["auth0_jwt.schema"])  # drf-spectacular is an extra
    expected = {
        "auth0_jwt.apps",
        "auth0_jwt.authentication",
        "auth0_jwt.checks",
        "auth0_jwt.conf",
        "auth0_jwt.keystore",
        "auth0_jwt.permissions",
        "auth0_jwt.user_lookup",
        "auth0_jwt.users",
        "auth0_jwt.verifier",
        "auth0_jwt.management.commands.mint_token",
        "auth0_jwt.management.commands.inspect_token",
        "auth0_jwt.management.commands.check_auth0",
    }
    assert expected <= set(modules["imported"])
