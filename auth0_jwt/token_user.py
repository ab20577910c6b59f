"""Stateless users (`AUTH0["USER"] = "token"`): `request.user` is built from the verified token
alone, with no database read and no `Auth0Identity` row, for services that keep no users (as
simplejwt's `JWTStatelessUserAuthentication` and Auth0's quickstart do).

A `TokenUser` answers what views and permission classes ask of a user (`is_authenticated`,
`is_active`, `pk`, `get_username()`), plus the token's `sub`, `scopes` and `permissions`. It cannot
be saved, has no groups and no Django permissions, and there is no way to disable it: a disabled
user is refused only in database mode. Framework-free, like the rest of the core.
"""

from collections.abc import Iterable
from typing import Any

from auth0_jwt.verifier import VerifiedToken


class TokenUser:
    """The user of a verified token, for stateless services."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    __slots__ = ("token",)

    def __init__(self, token: VerifiedToken):
        self.token = token

    @property
    def sub(self) -> str:
        return self.token.subject

    # Django's user API, as far as it makes sense without a database row.
    pk = id = username = sub

    @property
    def scopes(self) -> frozenset[str]:
        """Everything the token grants: its `scope` claim and its RBAC `permissions`."""
        return self.token.scopes

    @property
    def permissions(self) -> tuple[str, ...]:
        """The token's RBAC `permissions` claim as sent (a list of strings, or empty)."""
        return tuple(self.token.claims.get("permissions", ()))

    def get_username(self) -> str:
        return self.sub

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """Django model permissions live in the database: a token user has none."""
        return False

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.sub == self.sub

    def __hash__(self) -> int:
        return hash(self.sub)

    def __str__(self) -> str:
        return self.sub

    def __repr__(self) -> str:
        return f"<TokenUser {self.sub!r}>"


class TokenUserLoader:
    """The request authenticator's user loader in token mode: no I/O, so nothing to do off the
    event loop either."""

    def load(self, token: VerifiedToken) -> TokenUser:
        return TokenUser(token)

    async def aload(self, token: VerifiedToken) -> TokenUser:
        return TokenUser(token)
