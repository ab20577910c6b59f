"""OpenAPI (drf-spectacular) support for the authentication layer.

- `JSONWebTokenAuthenticationScheme` documents `Authorization: Bearer <JWT>` as `bearerAuth` and,
  as the alternative (unless AUTH0_DPOP is off), DPoP (RFC 9449): `Authorization: DPoP <JWT>` as
  `dpopAuth` together with the `DPoP: <proof JWT>` header as `dpopProof`. With AUTH0_DPOP=required
  only the DPoP pair is offered.
- `AutoSchema` adds what the authentication and scope checks do to every operation: the scopes
  it needs (from the view's `required_scopes`, in the description and as `x-required-scopes`),
  the 401, 403 and 503 answers with their `WWW-Authenticate` / `Retry-After` headers, and no
  security requirement at all for views without authentication.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import serializers

from auth0_jwt.authentication import JSONWebTokenAuthentication
from auth0_jwt.conf import DEFAULT_DPOP_ALGORITHMS, Auth0SettingsError, get_auth0_settings
from auth0_jwt.permissions import HasRequiredOrganization, HasRequiredScopes, required_scopes_for

SECURITY_SCHEME_NAME = "bearerAuth"
DPOP_SCHEME_NAME = "dpopAuth"
DPOP_PROOF_SCHEME_NAME = "dpopProof"


class ErrorSerializer(serializers.Serializer[Any]):
    """An error answer: one sentence saying what went wrong."""

    detail = serializers.CharField()


def _dpop_settings() -> tuple[str, tuple[str, ...]]:
    """AUTH0's DPoP mode and algorithms; the defaults while AUTH0 is invalid: the system check
    auth0_jwt.E002 says what is wrong, and schema generation (drf-spectacular's own check under
    `check --deploy`) does not fail a second time with the same words."""
    try:
        config = get_auth0_settings()
    except Auth0SettingsError:
        return "allowed", DEFAULT_DPOP_ALGORITHMS
    return config.dpop_mode, config.dpop_algorithms


class JSONWebTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """`JSONWebTokenAuthentication` is HTTP bearer authentication with a JWT access token."""

    target_class = "auth0_jwt.authentication.JSONWebTokenAuthentication"
    name = [SECURITY_SCHEME_NAME, DPOP_SCHEME_NAME, DPOP_PROOF_SCHEME_NAME]

    def get_security_requirement(
        self, auto_schema: SpectacularAutoSchema
    ) -> dict[str, list[Any]] | list[dict[str, list[Any]]]:
        """Bearer, or DPoP (the token and the proof together), as AUTH0_DPOP allows."""
        bearer: dict[str, list[Any]] = {SECURITY_SCHEME_NAME: []}
        dpop: dict[str, list[Any]] = {DPOP_SCHEME_NAME: [], DPOP_PROOF_SCHEME_NAME: []}
        mode = _dpop_settings()[0]
        if mode == "off":
            return bearer
        return dpop if mode == "required" else [bearer, dpop]

    def get_security_definition(
        self, auto_schema: SpectacularAutoSchema
    ) -> dict[str, Any] | list[dict[str, Any]]:
        bearer = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix=JSONWebTokenAuthentication.keyword,
            bearer_format="JWT",
        )
        bearer["description"] = (
            "An access token issued for this API (by Auth0, or by the local development issuer: "
            "`python manage.py mint_token`). A token bound to a key (with a `cnf` claim) is "
            "refused here: send it with DPoP."
        )
        algorithms = ", ".join(_dpop_settings()[1])
        dpop = {
            "type": "http",
            "scheme": JSONWebTokenAuthentication.dpop_keyword,
            "description": (
                "A DPoP-bound access token (RFC 9449; its `cnf.jkt` names the client's key): "
                "`Authorization: DPoP <token>`, sent together with the `DPoP` header (dpopProof). "
                "Local development: `python manage.py mint_token --dpop-key PATH`."
            ),
        }
        proof = {
            "type": "apiKey",
            "in": "header",
            "name": "DPoP",
            "description": (
                "A DPoP proof JWT for this one request, signed by the client's key "
                f"({algorithms}): typ `dpop+jwt`, the public key in its `jwk` header, claims "
                "`jti` (new for every request), `htm` (the method), `htu` (the URL without query), "
                "`iat` and `ath` (base64url SHA-256 of the token). Local development: "
                "`python manage.py dpop_proof --key PATH --method GET --url URL --token TOKEN`."
            ),
        }
        return [bearer, dpop, proof]


def _header(description: str) -> dict[str, Any]:
    return {"schema": {"type": "string"}, "description": description}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, aware of bearer tokens and `required_scopes`."""

    def required_scopes(self) -> tuple[str, ...]:
        """The scopes this operation needs: none unless the view checks scopes."""
        if not any(isinstance(p, HasRequiredScopes) for p in self.view.get_permissions()):
            return ()
        return required_scopes_for(self.view, self.method)

    def required_organization(self) -> tuple[str, ...]:
        """The organizations (ids or names) this operation is restricted to: none unless the view
        checks `required_organization`."""
        if not any(isinstance(p, HasRequiredOrganization) for p in self.view.get_permissions()):
            return ()
        required = getattr(self.view, "required_organization", None) or ()
        return (required,) if isinstance(required, str) else tuple(required)

    def needs_token(self) -> bool:
        """Whether the view reads tokens at all (then a bad one is a 401, whatever else)."""
        return bool(self.view.get_authenticators())

    # drf-spectacular's get_description() takes no path and method, unlike DRF's (it ignores the
    # override error as well).
    def get_description(self) -> str:  # type: ignore[override]
        description = super().get_description() or ""
        scopes = self.required_scopes()
        if scopes:
            names = ", ".join(f"`{scope}`" for scope in scopes)
            description += (
                f"\n\n**Required scopes:** {names} (in the token's `scope` claim or its RBAC "
                "`permissions`)."
            )
        organizations = self.required_organization()
        if organizations:
            names = " or ".join(f"`{entry}`" for entry in organizations)
            description += (
                f"\n\n**Organization:** tokens of the Auth0 organization {names} only (an id is "
                "compared with the token's `org_id`, a name with its `org_name`)."
            )
        return description.strip()

    def get_auth(self) -> list[dict[str, Any]]:
        if not self.view.get_authenticators():
            return []  # no authentication at all: the operation has no security requirement
        return super().get_auth()

    def get_extensions(self) -> dict[str, Any]:
        extensions = dict(super().get_extensions())
        scopes = self.required_scopes()
        if scopes:
            extensions["x-required-scopes"] = list(scopes)
        organizations = self.required_organization()
        if organizations:
            extensions["x-required-organization"] = list(organizations)
        return extensions

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not self.needs_token():
            return operation
        error_schema = self.resolve_serializer(ErrorSerializer, "response").ref
        error = {"application/json": {"schema": error_schema}}
        responses = operation["responses"]
        unauthorized = (
            "No token, or the token was rejected (expired, wrong audience, bad signature, ...), "
            "or its DPoP proof was."
        )
        if self.required_organization():
            unauthorized += " Also a token of another organization (or of none)."
        responses.setdefault(
            "401",
            {
                "description": unauthorized,
                "headers": {
                    "WWW-Authenticate": _header(
                        'Bearer realm="api", with error="invalid_token" and an '
                        "error_description when a token was rejected; for a DPoP request "
                        'DPoP algs="ES256" with error="invalid_token" or '
                        'error="invalid_dpop_proof" (or "use_dpop_nonce", with a DPoP-Nonce '
                        "header, when server nonces are on). Without credentials, both "
                        "challenges."
                    ),
                    "DPoP-Nonce": _header(
                        'With error="use_dpop_nonce": the nonce to sign into the next DPoP '
                        "proof (AUTH0_DPOP_NONCE=on)."
                    ),
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
                "loaded), the database is unavailable, or (DPoP) the replay cache is.",
                "headers": {"Retry-After": _header("Seconds to wait before retrying.")},
                "content": error,
            },
        )
        return operation
