"""Auth0 access-token authentication for Django REST framework.

- `keystore.JWKSKeyStore`: fetches and caches the issuer's signing keys.
- `verifier.TokenVerifier`: turns a raw JWT into verified claims.
- `authentication.JSONWebTokenAuthentication`: the DRF authentication class.
- `permissions.HasRequiredScopes`: scope checks for views.
"""
