"""The "Testing your API" documentation stays true: the DRF test module docs/testing.md shows is the
one the package README shows (which `package_tests/test_testing_plugin.py` runs in a fresh project),
and every fixture the tables name is one the plugin provides."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = re.compile(r"```python\n# (tests/test_\w+\.py)\n(.*?)```", re.S)
FIXTURE_ROW = re.compile(r"^\| `(auth0_\w+)", re.M)


def section_of(path: Path) -> str:
    """The package README's "Testing your API" section, or the docs page of that title."""
    text = path.read_text()
    if text.startswith("# Testing your API"):
        return text
    section = text[text.index("## Testing your API") :]
    return section[: section.index("\n## ", 1)]


def modules(path: Path) -> dict[str, str]:
    return dict(MODULE.findall(section_of(path)))


def test_the_docs_show_the_package_readmes_drf_module():
    readme = modules(ROOT / "docs" / "testing.md")
    package_readme = modules(ROOT / "auth0_jwt" / "README.md")
    assert list(readme) == ["tests/test_messages_drf.py"]
    assert readme["tests/test_messages_drf.py"] == package_readme["tests/test_messages_drf.py"]


def test_every_fixture_in_the_tables_is_the_plugins(request):
    documented = set(FIXTURE_ROW.findall(section_of(ROOT / "auth0_jwt" / "README.md")))
    assert documented == {
        "auth0_token",
        "auth0_api_client",
        "auth0_client",
        "auth0_ninja_client",
        "auth0_dpop_key",
        "auth0_issuer",
    }
    plugin = request.config.pluginmanager.get_plugin("auth0_jwt.testing.plugin")
    for name in documented | {"auth0_async_client", "auth0_ninja_async_client"}:
        assert callable(getattr(plugin, name)), name
