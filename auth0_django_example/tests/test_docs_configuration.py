"""The configuration reference (docs/configuration.md) cannot drift from the code: it lists exactly
the keys `auth0_jwt.conf` accepts and exactly the environment variables the service's settings and
gunicorn.conf.py read; each key's documented default changes nothing when set, each example is
accepted, and each variable's documented default is the one the code gives it."""

import ast
import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.conf import SETTING_KEYS, load_auth0_settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"
# Where the service reads its environment: Django's settings, and gunicorn's before Django loads.
ENVIRONMENT_READERS = (
    ROOT / "auth0_django_example" / "settings.py",
    ROOT / "gunicorn.conf.py",
)
# The helpers those modules read variables with (the variable's name is the first argument).
READ_FUNCTIONS = {
    "env_str",
    "env_flag",
    "env_int",
    "env_list",
    "env_networks",
    "_whole_number",
    "_flag",
}
READ_METHODS = {"bool", "str", "int", "float", "list", "get"}
NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
REQUIRED = {"DOMAIN": "tenant.us.auth0.com", "AUDIENCE": "https://api.example.com/"}


def section(heading: str) -> str:
    text = REFERENCE.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of the Markdown tables in `text` whose first cell is a code span, by that name."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([A-Za-z0-9_]+)` \|(.*)\|$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} is documented twice"
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split(" | ")]
    return rows


def literal(cell: str):
    """The Python value of a cell that is one code span, e.g. `"RS256"` or `60`."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"not one code span: {cell!r}"
    return ast.literal_eval(match.group(1))


def is_literal(cell: str) -> bool:
    """Whether a cell is a Python value (`60`), not a description (`https://<DOMAIN>/`, —)."""
    try:
        literal(cell)
    except (AssertionError, ValueError, SyntaxError):
        return False
    return True


KEYS = table_rows(section("The `AUTH0` setting"))
VARIABLES = table_rows(section("Environment variables"))


def variables_read() -> dict[str, object]:
    """Every environment variable the readers name, with the default the code gives it when that
    default is a constant (else None)."""
    found: dict[str, object] = {}
    for path in ENVIRONMENT_READERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            reads = (isinstance(func, ast.Name) and func.id in READ_FUNCTIONS) or (
                isinstance(func, ast.Attribute) and func.attr in READ_METHODS
                and ast.unparse(func.value) in ("env", "os.environ")
            )  # fmt: skip
            first = node.args[0]
            if not reads or not isinstance(first, ast.Constant) or not NAME.match(str(first.value)):
                continue
            default_node = node.args[1] if len(node.args) > 1 else None
            for keyword in node.keywords:
                if keyword.arg == "default":
                    default_node = keyword.value
            default = default_node.value if isinstance(default_node, ast.Constant) else None
            if found.get(first.value) is None:
                found[first.value] = default
    return found


def test_the_reference_lists_exactly_the_keys_auth0_accepts():
    assert sorted(KEYS) == sorted(SETTING_KEYS)


@pytest.mark.parametrize("key", SETTING_KEYS)
def test_each_key_has_a_type_a_default_an_example_and_a_meaning(key):
    kind, default, example, meaning = KEYS[key]
    assert kind and default and example and meaning


@pytest.mark.parametrize("key", [key for key in SETTING_KEYS if is_literal(KEYS[key][1])])
def test_setting_a_key_to_its_documented_default_changes_nothing(key):
    default = literal(KEYS[key][1])
    assert load_auth0_settings({**REQUIRED, key: default}) == load_auth0_settings(REQUIRED)


@pytest.mark.parametrize("key", [key for key in SETTING_KEYS if key != "DOMAINS_RESOLVER"])
def test_each_documented_example_is_accepted(key):
    example = literal(KEYS[key][2])
    base = {"AUDIENCE": REQUIRED["AUDIENCE"]} if key == "DOMAINS" else REQUIRED
    settings = load_auth0_settings({**base, key: example})
    assert settings != load_auth0_settings(REQUIRED) or key in ("DOMAIN", "AUDIENCE")


def test_the_resolver_example_is_a_dotted_path_that_must_import():
    example = literal(KEYS["DOMAINS_RESOLVER"][2])
    with pytest.raises(ImproperlyConfigured, match=r"DOMAINS_RESOLVER\"\] cannot be imported"):
        load_auth0_settings({"AUDIENCE": REQUIRED["AUDIENCE"], "DOMAINS_RESOLVER": example})


def test_the_reference_lists_exactly_the_variables_the_service_reads():
    assert sorted(VARIABLES) == sorted(variables_read())


def test_each_variable_has_a_key_a_type_a_default_an_example_and_a_meaning():
    for name, cells in VARIABLES.items():
        assert len(cells) == 5 and all(cells), name
        key = cells[0]
        assert key == "–" or key.strip("`") in SETTING_KEYS, name


@pytest.mark.parametrize("name", sorted(variables_read()))
def test_each_variable_documents_the_default_the_code_gives_it(name):
    default = variables_read()[name]
    documented = VARIABLES[name][2]
    if isinstance(default, bool):
        assert documented.startswith("on" if default else "off"), (name, documented)
    elif isinstance(default, (str, int)) and str(default):
        assert f"`{default}`" in documented, (name, documented)


def test_the_package_readme_lists_every_key_too():
    readme = (ROOT / "auth0_jwt" / "README.md").read_text()
    settings = readme[
        readme.index("\n## Settings\n") : readme.index("\n## ", readme.index("\n## Settings\n") + 1)
    ]
    assert sorted(table_rows(settings)) == sorted(SETTING_KEYS)
