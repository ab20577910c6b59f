"""Auth0's current Django API quickstart (Authlib's `ResourceProtector`, plain function views), as
its guide writes `validator.py`, `views.py` and `urls.py`, with one change so that it runs at all.

The change: the guide imports the key set with `authlib.jose.JsonWebKey.import_key_set`. Since
Authlib 1.7 the token check runs on joserfc, which does not accept Authlib's own key set object, so
with the Authlib a fresh install gets every valid token is answered 500. The one import fixed:
`joserfc.jwk.KeySet.import_key_set`. The JWKS URL and the issuer come from the bench (the guide
builds them from the tenant's domain). Everything else is the guide's, the key fetch when this
module is imported included.

Served by `make bench` with gunicorn's defaults and sync workers, as the guide's users would.
"""

import json
import os
from urllib.request import urlopen

from authlib.integrations.django_oauth2 import ResourceProtector
from authlib.oauth2.rfc7523 import JWTBearerTokenValidator
from django.http import JsonResponse
from django.urls import path
from joserfc.jwk import KeySet  # the guide: from authlib.jose.rfc7517.jwk import JsonWebKey


class Auth0JWTBearerTokenValidator(JWTBearerTokenValidator):
    def __init__(self, jwks_url, issuer, audience):
        jsonurl = urlopen(jwks_url)  # noqa: S310 - the bench's own JWKS on 127.0.0.1
        public_key = KeySet.import_key_set(json.loads(jsonurl.read()))
        super().__init__(public_key)
        self.claims_options = {
            "exp": {"essential": True},
            "aud": {"essential": True, "value": audience},
            "iss": {"essential": True, "value": issuer},
        }


require_auth = ResourceProtector()
validator = Auth0JWTBearerTokenValidator(
    os.environ["BENCH_PEER_JWKS_URL"],
    os.environ["BENCH_PEER_ISSUER"],
    os.environ["BENCH_PEER_AUDIENCE"],
)
require_auth.register_token_validator(validator)


def public(request):
    """No access token required to access this route"""
    response = "Hello from a public endpoint! You don't need to be authenticated to see this."
    return JsonResponse(dict(message=response))


@require_auth(None)
def private(request):
    """A valid access token is required to access this route"""
    response = "Hello from a private endpoint! You need to be authenticated to see this."
    return JsonResponse(dict(message=response))


@require_auth("read:messages")
def private_scoped(request):
    """A valid access token and an appropriate scope are required to access this route"""
    response = (
        "Hello from a private endpoint! You need to be authenticated and have a scope of "
        "read:messages to see this."
    )
    return JsonResponse(dict(message=response))


urlpatterns = [
    path("api/public/", public),
    path("api/private/", private),
    path("api/private-scoped/", private_scoped),
]
