"""The local development issuer's public keys, at the path Auth0 uses."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from auth0_jwt.conf import get_auth0_settings
from auth0_jwt.keystore import JWKSError
from auth0_jwt.local_issuer import LocalIssuer


@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    """`GET /.well-known/jwks.json`, served only when this service is its own (dev) issuer."""
    config = get_auth0_settings()
    if not config.local_issuer:
        raise Http404("This service is not an issuer; its keys come from Auth0.")
    try:
        document = LocalIssuer.from_settings(config).jwks()
    except JWKSError as exc:
        return JsonResponse({"detail": str(exc)}, status=503)
    return JsonResponse(document, headers={"Cache-Control": "public, max-age=300"})
