"""OpenAPI (drf-spectacular) support for the authentication layer.

- `JSONWebTokenAuthenticationScheme` documents `Authorization: Bearer <JWT>` as `bearerAuth`.
- `AutoSchema` adds what the authentication and scope checks do to every operation: the scopes
  it needs (from the view's `required_scopes`, in the description and as `x-required-scopes`),
  the 401, 403 and 503 answers with their `WWW-Authenticate` / `Retry-After` headers, and no
  security requirement at all for views without authentication.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import serializers

from auth0_jwt.authentication import JSONWebTokenAuthentication
from auth0_jwt.permissions import HasRequiredScopes, required_scopes_for

SECURITY_SCHEME_NAME = "bearerAuth"


class ErrorSerializer(serializers.Serializer):
    """An error answer: one sentence saying what went wrong."""

    detail = serializers.CharField()


class JSONWebTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """`JSONWebTokenAuthentication` is HTTP bearer authentication with a JWT access token."""

    target_class = "auth0_jwt.authentication.JSONWebTokenAuthentication"
    name = SECURITY_SCHEME_NAME

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix=JSONWebTokenAuthentication.keyword,
            bearer_format="JWT",
        )
        scheme["description"] = (
            "An access token issued for this API (by Auth0, or by the local development issuer: "
            "`python manage.py mint_token`)."
        )
        return scheme


def _header(description: str) -> dict:
    return {"schema": {"type": "string"}, "description": description}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, aware of bearer tokens and `required_scopes`."""

    def required_scopes(self) -> tuple[str, ...]:
        """The scopes this operation needs: none unless the view checks scopes."""
        if not any(isinstance(p, HasRequiredScopes) for p in self.view.get_permissions()):
            return ()
        return required_scopes_for(self.view, self.method)

    def needs_token(self) -> bool:
        """Whether the view reads tokens at all (then a bad one is a 401, whatever else)."""
        return bool(self.view.get_authenticators())

    def get_description(self):
        description = super().get_description() or ""
        scopes = self.required_scopes()
        if scopes:
            names = ", ".join(f"`{scope}`" for scope in scopes)
            description += (
                f"\n\n**Required scopes:** {names} (in the token's `scope` claim or its RBAC "
                "`permissions`)."
            )
        return description.strip()

    def get_auth(self):
        if not self.view.get_authenticators():
            return []  # no authentication at all: the operation has no security requirement
        return super().get_auth()

    def get_extensions(self):
        extensions = dict(super().get_extensions())
        scopes = self.required_scopes()
        if scopes:
            extensions["x-required-scopes"] = list(scopes)
        return extensions

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not self.needs_token():
            return operation
        error_schema = self.resolve_serializer(ErrorSerializer, "response").ref
        error = {"application/json": {"schema": error_schema}}
        responses = operation["responses"]
        responses.setdefault(
            "401",
            {
                "description": "No token, or the token was rejected (expired, wrong audience, "
                "bad signature, ...).",
                "headers": {
                    "WWW-Authenticate": _header(
                        'Bearer realm="api", with error="invalid_token" and an '
                        "error_description when a token was rejected."
                    )
                },
                "content": error,
            },
        )
        scopes = self.required_scopes()
        if scopes:
            responses.setdefault(
                "403",
                {
                    "description": "The token lacks a required scope: " + ", ".join(scopes) + ".",
                    "headers": {
                        "WWW-Authenticate": _header(
                            'Bearer realm="api", error="insufficient_scope", scope="'
                            + " ".join(scopes)
                            + '"'
                        )
                    },
                    "content": error,
                },
            )
        responses.setdefault(
            "503",
            {
                "description": "Tokens cannot be verified yet (the issuer's signing keys are not "
                "loaded) or the database is unavailable.",
                "headers": {"Retry-After": _header("Seconds to wait before retrying.")},
                "content": error,
            },
        )
        return operation
