"""The package's test matrix: its own test suite on every Django it supports (`make test-package`).

Each session installs the package from this directory (so its declared dependency ranges must
resolve), the Django and Django REST framework of that line, and the test tools pinned in
requirements-dev.txt, then runs auth0_jwt/tests with the package-only settings
(auth0_jwt/tests/settings.py: no example service). The Django 4.2 session also installs the floors
pyproject.toml declares for DRF, PyJWT, asgiref and Django Ninja, so the lower bounds are tested,
not assumed; the Django 5.2 session the newest Ninja the `ninja` extra allows.
"""

import ast
import re
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent

# Django line -> the packages installed with it (a matching DRF; floors on the oldest line).
MATRIX = {
    "4.2": [
        "Django~=4.2.0",
        "djangorestframework~=3.15.0",
        "PyJWT[crypto]~=2.15.0",
        "cryptography~=42.0",
        "asgiref~=3.7.0",
        "django-ninja==1.4.0",
    ],
    "5.2": [
        "Django~=5.2.0",
        "djangorestframework~=3.18.0",
        "PyJWT[crypto]>=2.15",
        "django-ninja~=1.7.0",
    ],
}

# uvicorn (and what it needs) serves the async operations in test_ninja_serving.py and the async
# views in test_async_serving.py; adrf runs the DRF class in async views (test_async_views.py);
# pytest-xdist runs the testing plugin's isolation test on two workers (test_testing_isolation.py).
TEST_TOOLS = (
    "pytest",
    "pytest-django",
    "hypothesis",
    "sortedcontainers",
    "uvicorn",
    "h11",
    "click",
    "adrf",
    "pytest-xdist",
    "execnet",
)

# Tests that need the example service run in `make test`, not here: test modules that import it
# (found below), the schema fuzzing of its API, and three manage.py runs with its settings.
EXAMPLE_PACKAGES = {"auth0_django_example", "customers"}
NEEDS_THE_EXAMPLE = [
    "--ignore=auth0_jwt/tests/attacks/test_openapi_fuzzing.py",
    "--deselect=auth0_jwt/tests/test_commands.py::test_mint_token_unknown_option_is_a_one_line_error",
    "--deselect=auth0_jwt/tests/test_commands.py::"
    "test_server_refuses_to_start_without_a_tenant_when_debug_is_off",
    "--deselect=auth0_jwt/tests/test_commands.py::test_mint_token_refuses_in_production_mode",
    # /readyz is the example service's endpoint.
    "--deselect=auth0_jwt/tests/test_issuers.py::test_readiness_waits_for_every_issuer",
]
# Tests that need a newer Ninja than a line's floor: Ninja 1.4's TestClient refuses a NinjaAPI that
# a URLconf also mounts, which the testing plugin's Ninja clients do; they are tested on Ninja 1.7.
NEEDS_A_NEWER_NINJA = {"4.2": ["--ignore=auth0_jwt/tests/test_testing_ninja.py"]}


def modules_importing_the_example() -> list[str]:
    """`--ignore` for each test module of the package that imports the example service."""
    ignores = []
    for path in sorted((ROOT / "auth0_jwt" / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            if any(name.split(".")[0] in EXAMPLE_PACKAGES for name in names):
                ignores.append(f"--ignore={path.relative_to(ROOT)}")
                break
    return ignores


VERSIONS = (
    "import cryptography, django, jwt, rest_framework; from importlib.metadata import version; "
    "print('Django', django.get_version(), '| DRF', rest_framework.VERSION, '| PyJWT', "
    "jwt.__version__, '| cryptography', cryptography.__version__, '| Django Ninja', "
    "version('django-ninja'))"
)


def pinned(names) -> list[str]:
    """`name==version` for each of `names`, as requirements-dev.txt pins it."""
    pins = {}
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if match:
            pins[match.group(1).lower()] = line.strip()
    return [pins[name.lower()] for name in names]


@nox.session
@nox.parametrize("django", list(MATRIX), ids=[f"django-{line}" for line in MATRIX])
def package(session, django):
    """The package's own tests on one Django line."""
    session.install(*MATRIX[django], *pinned(TEST_TOOLS), ".[drf,openapi,redis,metrics,ninja]")
    session.run("python", "-c", VERSIONS)
    session.run(
        "python",
        "-m",
        "pytest",
        "--ds=auth0_jwt.tests.settings",
        "-p",
        "no:cacheprovider",
        "-q",
        *NEEDS_THE_EXAMPLE,
        *NEEDS_A_NEWER_NINJA.get(django, []),
        *modules_importing_the_example(),
        *(session.posargs or ["auth0_jwt/tests"]),
        env={"CI": "true"},
    )
