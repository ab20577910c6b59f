"""The OpenAPI schema documents DPoP beside Bearer: `dpopAuth` (the Authorization scheme) and
`dpopProof` (the DPoP header), offered as the modes say; the schema stays valid."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def generate():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    return schema


def test_both_dpop_headers_are_described_beside_bearer():
    schemes = generate()["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert {k: schemes["dpopAuth"][k] for k in ("type", "scheme")} == {
        "type": "http",
        "scheme": "DPoP",
    }
    assert {k: schemes["dpopProof"][k] for k in ("type", "in", "name")} == {
        "type": "apiKey",
        "in": "header",
        "name": "DPoP",
    }
    assert "Authorization: DPoP <token>" in schemes["dpopAuth"]["description"]
    assert "ath" in schemes["dpopProof"]["description"]


@pytest.mark.parametrize(
    ("mode", "security"),
    [
        ("off", [{"bearerAuth": []}]),
        ("allowed", [{"bearerAuth": []}, {"dpopAuth": [], "dpopProof": []}]),
        ("required", [{"dpopAuth": [], "dpopProof": []}]),
    ],
)
def test_operations_offer_the_schemes_of_the_mode(settings, mode, security):
    settings.AUTH0 = {**settings.AUTH0, "DPOP": mode}
    operation = generate()["paths"]["/api/private/"]["get"]
    assert operation["security"] == security
    challenge = operation["responses"]["401"]["headers"]["WWW-Authenticate"]["description"]
    assert 'error="invalid_dpop_proof"' in challenge


@pytest.mark.parametrize("key", ["USER", "DPOP", "LEEWAY"])
def test_an_invalid_auth0_setting_is_reported_once_not_again_by_schema_generation(settings, key):
    """`check --deploy` runs drf-spectacular's check, which generates the schema: a bad AUTH0
    value is auth0_jwt.E002 alone, not also drf_spectacular.E001 repeating it."""
    from django.core.checks import run_checks

    settings.AUTH0 = {**settings.AUTH0, key: "bogus"}
    ids = [message.id for message in run_checks(include_deployment_checks=True)]
    assert ids.count("auth0_jwt.E002") == 1
    assert "drf_spectacular.E001" not in ids
