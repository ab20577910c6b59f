"""From the outside, the three adapters give one set of answers: the built wheel alone in fresh
virtual environments, three `django-admin startproject` projects made of the package README's own
snippets (read from auth0_jwt/README.md, so this test breaks when the README drifts), each served
by a real server on 127.0.0.1:

- "drf":   `drf-auth0-jwt[drf]`, the README's settings, DRF view and urls line; gunicorn (WSGI).
- "plain": `drf-auth0-jwt` (no DRF installed, none in INSTALLED_APPS), the README's plain views
           and urls line; the async `private_scoped` view served by uvicorn (ASGI).
- "ninja": `drf-auth0-jwt[ninja]` (no DRF either), the README's Ninja API (an async operation)
           and urls line; gunicorn (WSGI).

One table of cases is asserted on each project, then the three projects' answers are compared to
each other. The servers start while the tenant's JWKS answers 503, so the first token request of
each gets the 503 with `Retry-After`; once the JWKS answers, the same request gets 200.

Run by `make test-package` (CI); not part of `make test`.
"""

import ast
import contextlib
import hashlib
import json
import re
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support import (
    AUDIENCE,
    PACKAGE_README,
    PIP,
    Answer,
    Tenant,
    b64url,
    free_port,
    get,
    pinned_versions,
    project_environment,
    run,
    serving,
    write_constraints,
)

README_DOMAIN = '"tenant.us.auth0.com"'  # the README's placeholders, replaced by the local tenant
README_AUDIENCE = json.dumps(AUDIENCE)  # the audience the tenant's tokens carry
SUB = "auth0|outside-in"
SCOPE = "read:messages"

# --- The README's snippets ------------------------------------------------------------------------


def section(title: str) -> str:
    """The text of the package README's section headed `title` (down to the next heading of the
    same or a higher level)."""
    text = PACKAGE_README.read_text()
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.M)
    assert match, f"the package README has no section {title!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def snippet(title: str, containing: str) -> str:
    """The one Python code block of section `title` that contains `containing` (dedented: the
    steps' blocks are indented in their list)."""
    blocks = [
        textwrap.dedent(block)
        for _, block in re.findall(r"^( *)```python\n(.*?)^\1```", section(title), re.S | re.M)
        if containing in block
    ]
    assert len(blocks) == 1, f"{len(blocks)} blocks of {title!r} contain {containing!r}"
    return blocks[0]


def assigned_literal(code: str, name: str):
    """The literal value `code` assigns to `name` (its `# ...` comments dropped)."""
    [value] = [
        node.value
        for node in ast.parse(code).body
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == [name]
    ]
    return ast.literal_eval(value)


def said(title: str, words: str) -> bool:
    """Whether section `title` says `words` (line breaks read as spaces)."""
    return words in " ".join(section(title).split())


USE_IT = "Use it in your project"
PLAIN = "Plain Django views"
NINJA = "Django Ninja"


def auth0_setting(domain: str) -> str:
    """Step 2 of the README, with the local tenant's domain."""
    code = snippet(USE_IT, "AUTH0 = {")
    assert code.count(README_DOMAIN) == 1 and code.count(README_AUDIENCE) == 1
    return code.replace(README_DOMAIN, json.dumps(domain))


def drf_settings(domain: str) -> str:
    """Steps 1 to 3, with the opt-in RFC 6750 exception handler."""
    apps = assigned_literal(snippet(USE_IT, "INSTALLED_APPS"), "INSTALLED_APPS")
    assert apps == ["rest_framework", "auth0_jwt"]
    rest_framework = {
        **assigned_literal(snippet(USE_IT, "DEFAULT_AUTHENTICATION_CLASSES"), "REST_FRAMEWORK"),
        **assigned_literal(snippet("Opt-in extras", "EXCEPTION_HANDLER"), "REST_FRAMEWORK"),
    }
    return (
        f"\nINSTALLED_APPS += {apps!r}\n\n{auth0_setting(domain)}\n"
        f"REST_FRAMEWORK = {rest_framework!r}\n"
    )


def settings_without_drf(title: str, domain: str) -> str:
    """What the plain-views and Ninja sections add: the app alone, and AUTH0 "as above"."""
    assert said(title, '"auth0_jwt"` in `INSTALLED_APPS` (`rest_framework` is not needed)')
    assert said(title, "`AUTH0` and `migrate` as above")
    return f'\nINSTALLED_APPS += ["auth0_jwt"]\n\n{auth0_setting(domain)}'


@dataclass(frozen=True)
class Recipe:
    """How one project is made from the README and served."""

    requirements: tuple[str, ...]  # the wheel's extras, and the server
    files: dict  # project file -> the README snippet written into it ("+": appended)
    server: str  # "gunicorn" or "uvicorn"
    path: str  # the protected view, which requires SCOPE
    ok_body: dict  # what the view answers a token of SUB with SCOPE


def recipes(domain: str) -> dict[str, Recipe]:
    return {
        "drf": Recipe(
            requirements=("[drf]", "gunicorn"),
            files={
                "+mysite/settings.py": drf_settings(domain),
                "mysite/views.py": snippet(USE_IT, "class MessagesView(APIView)"),
                "+mysite/urls.py": snippet(USE_IT, "MessagesView.as_view()"),
            },
            server="gunicorn",
            path="/api/messages/",
            ok_body={"sub": SUB, "scopes": ["openid", SCOPE]},
        ),
        "plain": Recipe(
            requirements=("", "uvicorn"),
            files={
                "+mysite/settings.py": settings_without_drf(PLAIN, domain),
                "mysite/views.py": snippet(PLAIN, "async def private_scoped"),
                "+mysite/urls.py": snippet(PLAIN, "urlpatterns"),
            },
            server="uvicorn",
            path="/api/messages/",  # private_scoped: async, requires read:messages
            ok_body={"user": "auth0.outside-in"},
        ),
        "ninja": Recipe(
            requirements=("[ninja]", "gunicorn"),
            files={
                "+mysite/settings.py": settings_without_drf(NINJA, domain),
                "mysite/api.py": snippet(NINJA, "NinjaAPI"),
                "+mysite/urls.py": snippet(NINJA, "urlpatterns"),
            },
            server="gunicorn",
            path="/api/messages",
            ok_body={"sub": SUB},
        ),
    }


PROJECTS = ("drf", "plain", "ninja")


# --- The projects ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    """The local tenant, its JWKS answering 503 until `served` has asked each server once."""
    server = Tenant(tmp_path_factory.mktemp("tenant"), available=False)
    yield server
    server.close()


@dataclass
class Project:
    name: str
    recipe: Recipe
    site: Path
    python: Path
    env: dict


def make_project(name: str, recipe: Recipe, folder: Path, wheel: Path, tenant: Tenant) -> Project:
    """A fresh virtualenv with the wheel and the server (the repository's pins as constraints),
    and a startproject project with the recipe's snippets; `migrate` and `check` have run."""
    venv = folder / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    extras, *others = recipe.requirements
    constraints = write_constraints(folder)
    run(str(python), *PIP, "install", "--quiet", "-c", constraints, f"{wheel}{extras}", *others)
    site = folder / "site"
    site.mkdir()
    run(str(venv / "bin" / "django-admin"), "startproject", "mysite", str(site))
    for target, code in recipe.files.items():
        path = site / target.removeprefix("+")
        path.write_text((path.read_text() if target.startswith("+") else "") + code)
    environment = project_environment(venv, tenant.ca_file)
    run(str(python), "manage.py", "migrate", "--noinput", cwd=site, env=environment)
    run(str(python), "manage.py", "check", "--fail-level", "WARNING", cwd=site, env=environment)
    return Project(name, recipe, site, python, environment)


@pytest.fixture(scope="module")
def projects(tmp_path_factory, wheel, tenant) -> dict[str, Project]:
    made = {
        name: make_project(name, recipe, tmp_path_factory.mktemp(name), wheel, tenant)
        for name, recipe in recipes(tenant.domain).items()
    }
    assert tenant.fetches == tenant.refused == 0  # migrate and check fetched nothing
    return made


def server_command(project: Project, port: int) -> list[str]:
    bin_folder = project.python.parent
    if project.recipe.server == "uvicorn":
        return [
            str(bin_folder / "uvicorn"),
            "mysite.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    return [str(bin_folder / "gunicorn"), "--bind", f"127.0.0.1:{port}", "mysite.wsgi"]


@dataclass
class Served:
    project: Project
    url: str  # the protected view's absolute URL, as the server sees it (a DPoP proof's htu)
    before_keys: Answer  # a valid token's answer while the JWKS answered 503
    after_keys: Answer  # the same token's first answer that was not 503, once the JWKS answered


@pytest.fixture(scope="module")
def served(projects, tenant) -> dict[str, Served]:
    """The three projects served at once. Each is first asked with a valid token while the tenant
    is down (503), then, once the tenant answers, until the answer is no longer 503."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for name, project in projects.items():
            port = free_port()
            command = server_command(project, port)
            base = stack.enter_context(serving(project.site, project.env, name, command, port))
            urls[name] = base + project.recipe.path
        headers = bearer(tenant.token(scope=f"openid {SCOPE}"))
        before = {name: get(url, headers) for name, url in urls.items()}
        assert tenant.refused >= len(urls)
        assert tenant.fetches == 0
        tenant.make_available()
        after = {name: answer_after_503(url, headers) for name, url in urls.items()}
        yield {name: Served(projects[name], urls[name], before[name], after[name]) for name in urls}


def answer_after_503(url: str, headers: dict) -> Answer:
    """The first answer to `headers` that is not 503, polling for up to a minute."""
    deadline = time.monotonic() + 60
    while True:
        answer = get(url, headers)
        if answer.status != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


# --- Requests -------------------------------------------------------------------------------------


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class DPoPClient:
    """A DPoP client key (P-256) and its proofs (RFC 9449), made here with cryptography and PyJWT,
    not with the package."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private_key.public_key().public_numbers()
        self.jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        # RFC 7638: the required members in lexicographic order, no whitespace.
        members = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        self.thumbprint = b64url(hashlib.sha256(members).digest())

    def proof(self, method: str, url: str, token: str) -> str:
        claims = {
            "jti": uuid.uuid4().hex,
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
            "ath": b64url(hashlib.sha256(token.encode("ascii")).digest()),
        }
        return jwt.encode(
            claims,
            self.private_key,
            algorithm="ES256",
            headers={"typ": "dpop+jwt", "jwk": self.jwk},
        )


def no_token(tenant, url):
    return {}


def malformed_token(tenant, url):
    return bearer("not-a-token")


def token_for_another_audience(tenant, url):
    return bearer(tenant.token(scope=SCOPE, aud="https://other.example.com/"))


def token_without_the_scope(tenant, url):
    return bearer(tenant.token(scope="openid"))


def valid_token(tenant, url):
    return bearer(tenant.token(scope=f"openid {SCOPE}"))


def dpop_bound_token(tenant, url):
    client = DPoPClient()
    token = tenant.token(scope=f"openid {SCOPE}", cnf={"jkt": client.thumbprint})
    return {"Authorization": f"DPoP {token}", "DPoP": client.proof("GET", url, token)}


NO_CREDENTIALS = 'Bearer realm="api", DPoP algs="ES256"'  # AUTH0["DPOP"] is "allowed" by default
MALFORMED = "The token is malformed: expected three base64url segments separated by dots."
AUDIENCE_DETAIL = "The token's audience is not this API."
SCOPE_DETAIL = "The access token lacks the scope this endpoint needs: read:messages."
KEYS_UNAVAILABLE = (
    "Tokens cannot be verified right now: the identity provider's signing keys are not loaded "
    "yet. Try again shortly."
)
VIEW = "the view's own answer"  # a 200's body: each project's view says it its own way

# The table: case -> (request, status, body, the headers that carry the auth answer).
CASES = {
    "no token": (
        no_token,
        401,
        {"detail": "Authentication credentials were not provided."},
        {"WWW-Authenticate": NO_CREDENTIALS},
    ),
    "malformed token": (
        malformed_token,
        401,
        {"detail": MALFORMED},
        {
            "WWW-Authenticate": 'Bearer realm="api", error="invalid_token", '
            f'error_description="{MALFORMED}"'
        },
    ),
    "token for another audience": (
        token_for_another_audience,
        401,
        {"detail": AUDIENCE_DETAIL},
        {
            "WWW-Authenticate": 'Bearer realm="api", error="invalid_token", '
            f'error_description="{AUDIENCE_DETAIL}"'
        },
    ),
    "token without the scope": (
        token_without_the_scope,
        403,
        {"detail": SCOPE_DETAIL},
        {"WWW-Authenticate": f'Bearer realm="api", error="insufficient_scope", scope="{SCOPE}"'},
    ),
    "valid token": (valid_token, 200, VIEW, {}),
    "DPoP-bound token with its proof": (dpop_bound_token, 200, VIEW, {}),
}
AUTH_HEADERS = ("WWW-Authenticate", "Retry-After", "DPoP-Nonce")
KEYS_NOT_LOADED = (503, {"detail": KEYS_UNAVAILABLE}, {"Retry-After": "5"})


def auth_headers(answer: Answer) -> dict:
    return {name: answer.header(name) for name in AUTH_HEADERS if answer.header(name) is not None}


def check(served: Served, answer: Answer, status, body, headers):
    log = served.project.site / f"{served.project.name}.log"
    assert answer.status == status, (answer, log.read_text()[-3000:])
    expected_body = served.project.recipe.ok_body if body is VIEW else body
    assert answer.json() == expected_body
    assert auth_headers(answer) == headers
    if status != 200:
        assert answer.header("Content-Type") == "application/json"


# --- The table, on each project -------------------------------------------------------------------


INSTALLED = {  # what each project's virtualenv holds, beside the wheel's own dependencies
    "drf": {"djangorestframework", "gunicorn"},
    "plain": {"uvicorn"},
    "ninja": {"django-ninja", "gunicorn"},
}
LOOK_UP = """
import importlib.metadata as metadata, json, auth0_jwt
names = ["django", "djangorestframework", "django-ninja", "gunicorn", "uvicorn", "drf-auth0-jwt"]
found = {}
for name in names:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps({"package": auth0_jwt.__file__, "versions": found}))
"""


def test_each_project_has_the_wheel_its_extra_and_its_server_at_the_pinned_versions(projects):
    pinned = pinned_versions()
    for name, project in projects.items():
        result = run(str(project.python), "-c", LOOK_UP, cwd=project.site, env=project.env)
        found = json.loads(result.stdout)
        assert "/site-packages/auth0_jwt/" in found["package"]
        versions = found["versions"]
        assert set(versions) == {"django", "drf-auth0-jwt", *INSTALLED[name]}
        assert versions.pop("drf-auth0-jwt") == "1.0.0"
        assert versions == {package: pinned[package] for package in versions}
    # No DRF in the plain-views and Ninja projects' settings either.
    for name in ("plain", "ninja"):
        settings = (projects[name].site / "mysite" / "settings.py").read_text()
        assert "rest_framework" not in settings


def test_the_readme_documents_this_table():
    """Each refusal of the table is a row of the README's table of answers, word for word."""
    documented = section(USE_IT)
    refusals = [CASES[case][1:] for case in CASES if CASES[case][1] != 200]
    for status, body, headers in [*refusals, KEYS_NOT_LOADED]:
        assert f"`{status} {json.dumps(body)}`" in documented
        for name, value in headers.items():
            assert f"`{name}: {value}`" in documented


@pytest.mark.parametrize("name", PROJECTS)
def test_a_token_before_the_keys_are_loaded_is_503_then_200_once_they_are(served, name):
    check(served[name], served[name].before_keys, *KEYS_NOT_LOADED)
    check(served[name], served[name].after_keys, 200, VIEW, {})


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", PROJECTS)
def test_the_table(served, tenant, name, case):
    request, status, body, headers = CASES[case]
    server = served[name]
    check(server, get(server.url, request(tenant, server.url)), status, body, headers)


# --- The three projects side by side --------------------------------------------------------------


def answers_of(served, tenant, case) -> dict[str, Answer]:
    request = CASES[case][0]
    return {name: get(server.url, request(tenant, server.url)) for name, server in served.items()}


def refusal(answer: Answer) -> tuple:
    """What a refusal says: status, JSON body, the auth headers, the Content-Type."""
    return answer.status, answer.json(), auth_headers(answer), answer.header("Content-Type")


@pytest.mark.parametrize("case", [case for case in CASES if CASES[case][1] != 200])
def test_the_three_projects_refuse_alike(served, tenant, case):
    answers = answers_of(served, tenant, case)
    assert refusal(answers["plain"]) == refusal(answers["drf"])
    assert refusal(answers["ninja"]) == refusal(answers["drf"])
    # And the bodies are DRF's byte for byte (compact JSON).
    assert answers["plain"].body == answers["drf"].body
    assert answers["ninja"].body == answers["drf"].body


def test_the_three_projects_refused_alike_before_the_keys(served):
    drf = served["drf"].before_keys
    assert refusal(served["plain"].before_keys) == refusal(drf)
    assert refusal(served["ninja"].before_keys) == refusal(drf)
    assert served["plain"].before_keys.body == drf.body
    assert served["ninja"].before_keys.body == drf.body


@pytest.mark.parametrize("case", [case for case in CASES if CASES[case][1] == 200])
def test_the_three_projects_admit_alike(served, tenant, case):
    answers = answers_of(served, tenant, case)
    assert {name: (a.status, auth_headers(a)) for name, a in answers.items()} == {
        name: (200, {}) for name in PROJECTS
    }
