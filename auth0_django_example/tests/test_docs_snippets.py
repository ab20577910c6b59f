"""Every Python snippet of the documentation (README.md, the package README, docs/*.md) compiles,
and is either run here, run by another test, or only compiled for a reason given below.

How each snippet is tested is said in SNIPPETS, one entry per snippet (a new snippet fails
`test_every_snippet_is_classified` until it gets one):

- "settings": executed as a settings module fragment (on top of `INSTALLED_APPS = []`); its `AUTH0`
  must load (`auth0_jwt.conf.load_auth0_settings`), and every dotted path in `INSTALLED_APPS` and
  `REST_FRAMEWORK` must import.
- "views": executed as a module; then each view it defines is served through a URLconf of its own
  by Django's test client: without a token it answers 401 with `WWW-Authenticate: Bearer
  realm="api"` (a view named `public` answers 200), and with a token of the testing plugin's
  issuer carrying every scope the docs use, 200 (405 for a class-based view with no GET handler).
- "urls": executed as the tail of a URLconf (`path` imported, `urlpatterns` defined), with the
  views snippet it imports from installed as `mysite.views` or `mysite.api`; its patterns resolve.
- "unittest": executed as a test module when this module is imported; pytest collects its
  TestCase classes and test functions from here (as `TestDocs...`, `test_docs_...`) and runs them
  against the package README's DRF view at `/api/messages/`.
- "elsewhere": a whole test module another test runs, named in the entry.
- "compile": only compiled, for the reason in the entry.
"""

import re
import sys
import textwrap
import types
import unittest
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, include, path
from django.utils.module_loading import import_string

from auth0_jwt.conf import load_auth0_settings

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "auth0_jwt" / "README.md", *sorted(ROOT.glob("docs/*.md"))]
# A fenced block, possibly indented (in a list item): its code is dedented.
PYTHON_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)
# The quickstart guide keeps the quickstart's placeholders; these stand in for them.
PLACEHOLDERS = {
    "{yourDomain}": "tenant.us.auth0.com",
    "{yourApiIdentifier}": "https://api.example.com/",
}
# Every scope and the organization the documented views ask for.
SCOPES = ["read:messages", "write:messages", "admin", "read:reports"]
ORGANIZATION = "org_W9bWaGIoMAIEpHLV"


@dataclass(frozen=True)
class Snippet:
    document: str
    marker: str  # text found in this snippet and in no other of its document
    how: str  # settings, views, urls, unittest, elsewhere or compile
    why: str = ""  # elsewhere: the test that runs it; compile: why it is not run
    module: str = ""  # views: the module name urls snippets import it as
    uses: str = ""  # urls, unittest and continued views: the marker of the views snippet it needs


PACKAGE = "auth0_jwt/README.md"
QUICKSTART = (
    "Auth0's quickstart as it is (Authlib), the code the guide replaces; Authlib is not here"
)
RUN_BY_TEST_PACKAGE = (
    "package_tests/test_testing_plugin.py (make test-package) runs it in a fresh project"
)
SNIPPETS = [
    Snippet("README.md", "INSTALLED_APPS +=", "settings"),
    Snippet("docs/use-in-your-project.md", "INSTALLED_APPS +=", "settings"),
    Snippet("docs/use-in-your-project.md", "class MessagesView(Auth0TokenRequiredMixin", "views"),
    Snippet("docs/use-in-your-project.md", "admin = Router(", "views"),
    Snippet(
        "docs/testing.md", "# tests/test_messages_drf.py", "elsewhere",
        "the package README's identical module (test_testing_docs.py): " + RUN_BY_TEST_PACKAGE,
    ),
    Snippet(
        "docs/migrating-from-auth0-quickstart.md", "# validator.py", "compile",
        QUICKSTART,
    ),
    Snippet(
        "docs/migrating-from-auth0-quickstart.md", "ResourceProtector()", "compile",
        QUICKSTART,
    ),
    Snippet("docs/migrating-from-auth0-quickstart.md", "# settings.py", "settings"),
    Snippet("docs/migrating-from-auth0-quickstart.md", "from auth0_jwt.django", "views"),
    Snippet(
        "docs/migrating-from-simplejwt.md", "SIMPLE_JWT = {", "compile",
        "simplejwt's settings, the configuration the guide replaces; simplejwt is not installed",
    ),
    Snippet("docs/migrating-from-simplejwt.md", '"auth0_jwt",\n]', "settings"),
    Snippet("docs/migrating-from-djangorestframework-jwt.md", "JWT_AUTH = {", "compile",
            "the tutorial's djangorestframework-jwt settings, which no longer import on Django 4+"),
    Snippet("docs/migrating-from-djangorestframework-jwt.md", "def jwt_get_username_from_payload",
            "compile", "the tutorial's handler, which needs djangorestframework-jwt's settings"),
    Snippet("docs/migrating-from-djangorestframework-jwt.md", 'AUTH0 = {', "settings"),
    Snippet("docs/migrating-from-djangorestframework-jwt.md", "class PrivateScoped", "views"),
    Snippet(PACKAGE, "INSTALLED_APPS = [", "settings"),
    Snippet(PACKAGE, "AUTH0 = {", "settings"),
    Snippet(PACKAGE, '"DEFAULT_AUTHENTICATION_CLASSES"', "settings"),
    Snippet(PACKAGE, "class MessagesView(APIView)", "views", module="mysite.views"),
    Snippet(PACKAGE, "from mysite.views import MessagesView", "urls",
            uses="class MessagesView(APIView)"),
    Snippet(PACKAGE, '"EXCEPTION_HANDLER"', "settings"),
    Snippet(PACKAGE, '"DEFAULT_SCHEMA_CLASS"', "settings"),
    Snippet(PACKAGE, "from auth0_jwt.views import jwks", "urls"),
    Snippet(PACKAGE, "class MessagesView(Auth0TokenRequiredMixin", "views", module="mysite.views"),
    Snippet(PACKAGE, "from mysite.views import private", "urls",
            uses="class MessagesView(Auth0TokenRequiredMixin"),
    Snippet(PACKAGE, "api = NinjaAPI(", "views", module="mysite.api"),
    Snippet(PACKAGE, "from mysite.api import api\n\nurlpatterns", "urls", uses="api = NinjaAPI("),
    Snippet(PACKAGE, "# tests/test_messages_drf.py", "elsewhere", RUN_BY_TEST_PACKAGE),
    Snippet(PACKAGE, "# tests/test_messages_views.py", "elsewhere", RUN_BY_TEST_PACKAGE),
    Snippet(PACKAGE, "# tests/test_messages_ninja.py", "elsewhere", RUN_BY_TEST_PACKAGE),
    Snippet(PACKAGE, "from django.test import TestCase", "unittest",
            uses="class MessagesView(APIView)"),
    Snippet(PACKAGE, "class AcmeReports(APIView)", "views", uses="class MessagesView(APIView)"),
]  # fmt: skip


def blocks(document: str) -> list[tuple[int, str]]:
    """The Python blocks of a document, each with the line it starts on."""
    text = (ROOT / document).read_text()
    return [
        (text.count("\n", 0, m.start()) + 2, textwrap.dedent(m.group(2)))
        for m in PYTHON_BLOCK.finditer(text)
    ]


def every_block() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(ROOT)), line, code)
        for path in DOCUMENTS
        for line, code in blocks(str(path.relative_to(ROOT)))
    ]


def code_of(document: str, marker: str) -> str:
    [code] = [code for _line, code in blocks(document) if marker in code]
    for placeholder, value in PLACEHOLDERS.items():
        code = code.replace(placeholder, value)
    return code


def run_module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 (the docs' own code)
    return module


def by_id(snippet: Snippet) -> str:
    return f"{snippet.document}:{snippet.marker.splitlines()[0][:40]}"


def of_kind(*kinds: str) -> list[Snippet]:
    return [snippet for snippet in SNIPPETS if snippet.how in kinds]


@pytest.mark.parametrize(
    ("document", "line", "code"), every_block(), ids=[f"{d}:{n}" for d, n, _ in every_block()]
)
def test_every_python_snippet_compiles(document, line, code):
    compile(code, f"{document}:{line}", "exec")


def test_every_snippet_is_classified_once():
    unclassified = []
    for document, line, code in every_block():
        entries = [s for s in SNIPPETS if s.document == document and s.marker in code]
        if len(entries) != 1:
            unclassified.append(f"{document}:{line} matches {len(entries)} entries of SNIPPETS")
    assert unclassified == []
    for snippet in SNIPPETS:  # and no entry outlives its snippet
        code_of(snippet.document, snippet.marker)
        assert snippet.how in (
            "settings", "views", "urls", "unittest", "linking", "elsewhere", "compile"
        )  # fmt: skip
        assert bool(snippet.why) == (snippet.how in ("elsewhere", "compile")), snippet


@pytest.mark.parametrize("snippet", of_kind("settings"), ids=by_id)
def test_settings_snippets_load(snippet):
    settings = {"INSTALLED_APPS": []}
    exec(code_of(snippet.document, snippet.marker), settings)  # noqa: S102 (the docs' own code)
    if "AUTH0" in settings:
        load_auth0_settings(settings["AUTH0"])
    for app in settings["INSTALLED_APPS"]:
        __import__(app)
    for name, value in settings.get("REST_FRAMEWORK", {}).items():
        for dotted in value if isinstance(value, list) else [value]:
            assert callable(import_string(dotted)), (name, dotted)


def views_of(module: types.ModuleType) -> dict[str, object]:
    """The views a snippet module defines (functions taking a request, View classes), and its
    Ninja APIs, by name."""
    from django.views import View
    from ninja import NinjaAPI

    apis = {name: value for name, value in vars(module).items() if isinstance(value, NinjaAPI)}
    if apis:  # its functions are the APIs' operations
        return apis
    found = {}
    for name, value in vars(module).items():
        if isinstance(value, NinjaAPI):
            found[name] = value
        elif (
            isinstance(value, type)
            and issubclass(value, View)
            and value.__module__ == module.__name__
        ):
            found[name] = value
        elif callable(value) and getattr(value, "__module__", None) == module.__name__:
            if not isinstance(value, type):
                found[name] = value
    return found


def urlconf_for(views: dict[str, object]) -> tuple[types.ModuleType, dict[str, str]]:
    """A URLconf serving each view at /<name>/ (a Ninja API's operations under /<name>/), and the
    path each is requested at."""
    from ninja import NinjaAPI

    urlconf, urls = types.ModuleType("docs_snippet_urls"), {}
    urlconf.urlpatterns = []
    for name, view in views.items():
        if isinstance(view, NinjaAPI):
            urlconf.urlpatterns.append(path(f"{name}/", view.urls))
            urls[name] = f"/{name}/messages"
        else:
            served = view.as_view() if isinstance(view, type) else view
            urlconf.urlpatterns.append(path(f"{name}/", served))
            urls[name] = f"/{name}/"
    return urlconf, urls


@pytest.mark.django_db
@pytest.mark.parametrize("snippet", of_kind("views"), ids=by_id)
def test_views_snippets_answer_401_without_a_token_and_200_with_one(snippet, settings, auth0_token):
    code = code_of(snippet.document, snippet.marker)
    if snippet.uses:
        code = code_of(snippet.document, snippet.uses) + "\n" + code
    module = run_module("docs_snippet", code)
    views = views_of(module)
    if snippet.uses:  # a snippet that continues another is served without the other's views
        views = {
            name: view
            for name, view in views.items()
            if name in code_of(snippet.document, snippet.marker)
        }
    assert views, "the snippet defines no view"
    urlconf, urls = urlconf_for(views)
    settings.ROOT_URLCONF = urlconf
    token = auth0_token(scopes=SCOPES, org_id=ORGANIZATION)
    from django.test import Client

    client = Client()
    for name, url in urls.items():
        anonymous = client.get(url)
        if name.lower() == "public":
            assert anonymous.status_code == 200, name
            continue
        assert anonymous.status_code == 401, (name, anonymous.content)
        assert anonymous.headers["WWW-Authenticate"].startswith('Bearer realm="api"'), name
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        handles_get = not isinstance(views[name], type) or hasattr(views[name], "get")
        assert response.status_code == (200 if handles_get else 405), (name, response.content)


def installed_views(snippet: Snippet, monkeypatch) -> None:
    """The views snippet `snippet` imports from, installed as mysite.views or mysite.api."""
    if not snippet.uses:
        return
    [views] = [s for s in SNIPPETS if s.document == snippet.document and s.marker == snippet.uses]
    monkeypatch.setitem(sys.modules, "mysite", types.ModuleType("mysite"))
    name = views.module or "mysite.views"
    monkeypatch.setitem(sys.modules, name, run_module(name, code_of(views.document, views.marker)))


@pytest.mark.parametrize("snippet", of_kind("urls"), ids=by_id)
def test_urls_snippets_resolve(snippet, monkeypatch):
    installed_views(snippet, monkeypatch)
    urlconf = {"path": path, "include": include, "urlpatterns": []}
    exec(code_of(snippet.document, snippet.marker), urlconf)  # noqa: S102 (the docs' own code)
    assert urlconf["urlpatterns"]
    for pattern in urlconf["urlpatterns"]:
        assert isinstance(pattern, (URLPattern, URLResolver)), pattern


def unittest_snippet_tests(snippet: Snippet) -> dict[str, object]:
    """The TestCase classes and test functions of a unittest snippet, for pytest to collect here,
    each served the views snippet it uses at /api/messages/."""
    [views] = [s for s in SNIPPETS if s.document == snippet.document and s.marker == snippet.uses]
    view = run_module("docs_snippet_views", code_of(views.document, views.marker)).MessagesView
    urlconf = types.ModuleType("docs_snippet_urls")
    urlconf.urlpatterns = [path("api/messages/", view.as_view())]
    module = run_module("docs_snippet_tests", code_of(snippet.document, snippet.marker))
    collected = {}
    for name, value in vars(module).items():
        if isinstance(value, type) and issubclass(value, unittest.TestCase):
            if value.__module__ == module.__name__:
                collected[f"TestDocs{name}"] = override_settings(ROOT_URLCONF=urlconf)(value)
        elif name.startswith("test_") and callable(value):
            collected[f"test_docs_{name.removeprefix('test_')}"] = value
    return collected


for _snippet in of_kind("unittest"):
    globals().update(unittest_snippet_tests(_snippet))


def test_the_unittest_snippets_are_collected_here():
    collected = [name for name in globals() if name.startswith(("TestDocs", "test_docs_"))]
    assert sorted(collected) == [
        "TestDocsMessagesTests", "TestDocsMoreMessagesTests", "test_docs_in_a_with_block"
    ]  # fmt: skip


@pytest.mark.django_db
def test_the_guides_linking_command_gives_the_tutorials_users_their_tokens(auth0_api_client):
    """The djangorestframework-jwt guide's `link_auth0_users` line, on users named as the
    tutorial named them: their tokens then get those users, not new ones."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    guide = (ROOT / "docs" / "migrating-from-djangorestframework-jwt.md").read_text()
    assert 'python manage.py link_auth0_users --dry-run "auth0|abc" "google-oauth2|123"' in guide
    User = get_user_model()
    tutorial_user = User.objects.create(username="auth0.abc")
    google_user = User.objects.create(username="google-oauth2.123")
    call_command("link_auth0_users", "auth0|abc", "google-oauth2|123", "auth0|never-seen")
    response = auth0_api_client(sub="auth0|abc").get("/api/private/")
    assert response.status_code == 200
    assert User.objects.get(auth0_identity__sub="auth0|abc") == tutorial_user
    assert User.objects.get(auth0_identity__sub="google-oauth2|123") == google_user
    assert User.objects.count() == 2  # the token got the tutorial's user, not a new one
