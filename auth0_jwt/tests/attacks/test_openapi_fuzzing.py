"""API fuzzing: schemathesis generates requests from the OpenAPI schema (the one /api/schema/
serves) and sends them to the live test server with a valid token; no answer may be a 500 or
disagree with the schema."""

import json

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from auth0_jwt.tests.attacks.support import claims, rs256

SCOPES = "openid read:messages read:customers write:customers"

# Built at collection (pytest-django has set Django up), so each operation is its own test.
schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
)


@pytest.fixture
def token(rsa_key):
    return rs256(rsa_key, claims(sub="auth0|fuzzer", scope=SCOPES))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_within_its_schema_and_never_500(case, live_server, token):
    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {token}"},
        # Requests the schema allows may still be refused with a documented 400: a duplicate
        # email, a phone number that is not E.164, an unknown `ordering` term. The schema cannot
        # express those rules, so "every schema-valid request succeeds" is not checked; the
        # converse (every schema-violating request is refused) is.
        excluded_checks=[positive_data_acceptance],
    )
