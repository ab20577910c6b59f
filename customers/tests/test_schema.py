"""The OpenAPI schema and Swagger UI: valid, complete, served without a token, from local files."""

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import resolve

from auth0_jwt.permissions import required_scopes_for

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_schema_validates_with_no_warnings(tmp_path):
    """What CI must keep true: `manage.py spectacular --validate --fail-on-warn` is clean."""
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    document = yaml.safe_load(target.read_text())
    assert document["openapi"] == "3.0.3"
    assert document["info"]["title"] == "auth0-django-example API"


def test_schema_is_yaml_by_default(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert yaml.safe_load(response.content)["openapi"] == "3.0.3"


@pytest.mark.parametrize(
    ("query", "accept", "content_type"),
    [
        ({"format": "json"}, None, "application/vnd.oai.openapi+json"),
        ({}, "application/json", "application/json"),
        ({}, "application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json"),
    ],
)
def test_schema_is_json_on_request(api_client, query, accept, content_type):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api_client.get("/api/schema/", query, **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert json.loads(response.content)["openapi"] == "3.0.3"


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_no_token_and_ignore_a_bad_one(api_client, url):
    response = api_client.get(url, HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert response.status_code == 200


def test_every_operation_is_documented(schema):
    ids = {(path, method): op["operationId"] for path, method, op in operations(schema)}
    assert ids == {
        ("/api/public/", "get"): "public",
        ("/api/private/", "get"): "private",
        ("/api/private-scoped/", "get"): "private_scoped",
        ("/api/customers/", "get"): "customers_list",
        ("/api/customers/", "post"): "customers_create",
        ("/api/customers/{id}/", "get"): "customers_retrieve",
        ("/api/customers/{id}/", "put"): "customers_update",
        ("/api/customers/{id}/", "patch"): "customers_partial_update",
        ("/api/customers/{id}/", "delete"): "customers_destroy",
    }


def test_bearer_auth_security_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert {k: scheme[k] for k in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_the_public_endpoint_has_no_security_and_no_auth_errors(schema):
    operation = schema["paths"]["/api/public/"]["get"]
    assert "security" not in operation
    assert set(operation["responses"]) == {"200"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Message"
    }


def test_every_token_protected_operation_needs_bearer_auth_and_documents_401(schema):
    for path, method, operation in operations(schema):
        if path == "/api/public/":
            continue
        # Bearer, or DPoP: the token and its proof together (AUTH0_DPOP=allowed, the default).
        assert operation["security"] == [
            {"bearerAuth": []},
            {"dpopAuth": [], "dpopProof": []},
        ], (path, method)
        unauthorized = operation["responses"]["401"]
        assert unauthorized["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        assert "WWW-Authenticate" in unauthorized["headers"]


def view_scopes(path: str, method: str) -> tuple[str, ...]:
    """The scopes the view itself requires: what the schema must say."""
    concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000")
    view_class = resolve(concrete).func.view_class
    return required_scopes_for(view_class(), method)


def test_required_scopes_in_the_schema_are_the_views_own(schema):
    seen = {}
    for path, method, operation in operations(schema):
        scopes = view_scopes(path, method)
        seen[(path, method)] = scopes
        if not scopes:
            assert "x-required-scopes" not in operation
            assert "403" not in operation["responses"]
            assert "Required scopes" not in operation.get("description", "")
            continue
        assert operation["x-required-scopes"] == list(scopes)
        names = ", ".join(f"`{scope}`" for scope in scopes)
        assert f"**Required scopes:** {names}" in operation["description"]
        forbidden = operation["responses"]["403"]
        challenge = forbidden["headers"]["WWW-Authenticate"]["description"]
        assert (
            challenge
            == f'Bearer realm="api", error="insufficient_scope", scope="{" ".join(scopes)}"'
        )
    # The derivation really covers what the API enforces.
    assert seen[("/api/private-scoped/", "get")] == ("read:messages",)
    assert seen[("/api/customers/", "get")] == ("read:customers",)
    assert seen[("/api/customers/", "post")] == ("write:customers",)
    assert seen[("/api/customers/{id}/", "patch")] == ("write:customers",)
    assert seen[("/api/private/", "get")] == ()


def test_customer_operations_document_their_errors(schema):
    codes = {
        (path, method): sorted(op["responses"])
        for path, method, op in operations(schema)
        if path.startswith("/api/customers/")
    }
    assert codes == {
        ("/api/customers/", "get"): ["200", "400", "401", "403", "404", "503"],
        ("/api/customers/", "post"): [
            "201",
            "400",
            "401",
            "403",
            "409",
            "413",
            "415",
            "422",
            "503",
        ],
        ("/api/customers/{id}/", "get"): ["200", "401", "403", "404", "503"],
        ("/api/customers/{id}/", "put"): ["200", "400", "401", "403", "404", "413", "415", "503"],
        ("/api/customers/{id}/", "patch"): ["200", "400", "401", "403", "404", "413", "415", "503"],
        ("/api/customers/{id}/", "delete"): ["204", "401", "403", "404", "503"],
    }


def test_customer_schemas_match_the_api(schema):
    components = schema["components"]["schemas"]
    created = components["CustomerInputRequest"]
    assert sorted(created["properties"]) == ["company", "email", "name", "notes", "phone"]
    assert sorted(created["required"]) == ["email", "name"]
    assert created["properties"]["notes"]["maxLength"] == 5000
    assert "required" not in components["PatchedCustomerInputRequest"]
    output = components["CustomerOutput"]["properties"]
    assert sorted(output) == sorted(
        ["id", "name", "email", "phone", "company", "notes", "created_at", "updated_at"]
    )
    assert output["id"]["format"] == "uuid"
    path_parameter = schema["paths"]["/api/customers/{id}/"]["get"]["parameters"][0]
    assert (path_parameter["in"], path_parameter["schema"]) == (
        "path",
        {"type": "string", "format": "uuid"},
    )
    list_parameters = {p["name"] for p in schema["paths"]["/api/customers/"]["get"]["parameters"]}
    assert list_parameters == {"page", "page_size", "search", "ordering"}


def test_swagger_ui_loads_only_local_static_files(api_client, settings):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    for url in urls:
        assert not url.startswith(("http:", "https:", "//")), url
        if url.startswith(static_prefix):
            path = url[len(static_prefix) :]
            assert finders.find(path), f"{path} is not a static file of this project"
        else:
            assert url.startswith("/api/docs/?"), url
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)


def test_swagger_ui_script_points_at_the_schema(api_client):
    response = api_client.get("/api/docs/", {"script": ""})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert '  url: "/api/schema/",' in script.splitlines()
