"""Auth0 Organizations: the organization an access token acts for, and which ones this API takes.

Auth0 puts `org_id` (and, when the tenant asks for it, `org_name`) into the access tokens of a
user who logged in through an organization, and tells APIs to check it: "otherwise deem the token
invalid". The rules here:
- `org_id`, when present, must be a non-empty string without control characters (at most
  `MAX_ORGANIZATION_LENGTH` characters), under every policy: services key data by it. The same
  holds for `org_name` when present. A token without `org_id` has no organization (an `org_name`
  alone does not make one);
- ids are compared exactly; a name from the configuration is compared, lower-cased, with the
  token's `org_name` exactly (Auth0 sends names in lower case): the token's value is never
  case-folded, so `ACME` or a look-alike such as a Cyrillic `а` never equals `acme`;
- an entry of an allow-list that starts with `org_` is an id, any other entry a name.

The policy (`AUTH0["ORGANIZATIONS"]`): None (organizations are not required; a token's valid
organization is still read), "required" (a token without `org_id` is refused), or an allow-list
of ids and names (the token's organization must be one of them). Framework-free: the verifier
applies the policy, the request authenticator a view's own restriction.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ID_PREFIX = "org_"
MAX_ORGANIZATION_LENGTH = 255
REQUIRED = "required"
# Control characters and lone surrogates (which JSON's "\ud800" yields and UTF-8 cannot encode).
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

BAD_ID = "The token's org_id claim is not a non-empty string."
BAD_NAME = "The token's org_name claim is not a non-empty string."
UNSAFE_ID = "The token's org_id claim contains characters that are not allowed."
UNSAFE_NAME = "The token's org_name claim contains characters that are not allowed."
MISSING = (
    "The token has no organization (org_id claim), and this API accepts organization tokens only."
)
NOT_ALLOWED = "The token's organization is not allowed here."
OTHER_ORGANIZATION = "The token is not for the organization this endpoint belongs to."


class OrganizationRejected(Exception):
    """The token's organization claims are unusable or do not satisfy the policy; `reason` is safe
    to show the caller (it never repeats a claim's value), `code` names it for the metrics."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Organization:
    """The Auth0 organization a token acts for: its `org_id`, and its `org_name` when sent."""

    id: str
    name: str | None = None


def organization_of(claims: Mapping[str, Any]) -> Organization | None:
    """The token's organization, None without `org_id`; OrganizationRejected (`bad_claim`) when
    `org_id` or `org_name` is not a usable string."""
    if "org_id" not in claims:
        return None
    org_id = _claim(claims["org_id"], BAD_ID, UNSAFE_ID)
    name = claims.get("org_name")
    if name is not None or "org_name" in claims:
        name = _claim(name, BAD_NAME, UNSAFE_NAME)
    return Organization(org_id, name)


def _claim(value: Any, bad: str, unsafe: str) -> str:
    if value.__class__ is not str or not value or len(value) > MAX_ORGANIZATION_LENGTH:
        raise OrganizationRejected(bad, "bad_claim")
    if UNSAFE_CHARACTERS.search(value) or not value.strip():
        raise OrganizationRejected(unsafe if value.strip() else bad, "bad_claim")
    return value


class OrganizationAllowList:
    """Organization ids (`org_...`, compared exactly) and names (compared lower-cased)."""

    __slots__ = ("ids", "names")

    def __init__(self, entries: Iterable[str]):
        entries = [entries] if isinstance(entries, str) else list(entries)
        if not entries or not all(isinstance(entry, str) and entry.strip() for entry in entries):
            raise ValueError("an organization allow-list holds non-empty ids or names")
        entries = [entry.strip() for entry in entries]
        self.ids = frozenset(entry for entry in entries if entry.startswith(ID_PREFIX))
        self.names = frozenset(
            entry.lower() for entry in entries if not entry.startswith(ID_PREFIX)
        )

    def __contains__(self, organization: Organization | None) -> bool:
        if organization is None:
            return False
        return organization.id in self.ids or (
            organization.name is not None and organization.name in self.names
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrganizationAllowList) and (self.ids, self.names) == (
            other.ids,
            other.names,
        )

    def __hash__(self) -> int:
        return hash((self.ids, self.names))

    def __repr__(self) -> str:
        return f"OrganizationAllowList({sorted(self.ids) + sorted(self.names)!r})"


class OrganizationPolicy:
    """What `AUTH0["ORGANIZATIONS"]` asks of every token: `None`, `"required"` or an allow-list.

    `check(organization)` raises OrganizationRejected (code `missing_organization` or
    `organization_not_allowed`) when the token's organization does not satisfy it.
    """

    __slots__ = ("allowed", "required")

    def __init__(self, setting: None | str | Iterable[str] = None):
        self.allowed: OrganizationAllowList | None = None
        if setting is None:
            self.required = False
        elif isinstance(setting, str) and setting.strip().lower() == REQUIRED:
            self.required = True
        else:
            self.required = True
            self.allowed = OrganizationAllowList(setting)

    def check(self, organization: Organization | None) -> None:
        if not self.required:
            return
        if organization is None:
            raise OrganizationRejected(MISSING, "missing_organization")
        if self.allowed is not None and organization not in self.allowed:
            raise OrganizationRejected(NOT_ALLOWED, "organization_not_allowed")

    def describe(self) -> str:
        """The policy in words, for the operator's tools."""
        if not self.required:
            return "not required"
        if self.allowed is None:
            return "required (any organization)"
        return "required, one of: " + ", ".join(
            sorted(self.allowed.ids) + sorted(self.allowed.names)
        )


__all__ = [
    "MAX_ORGANIZATION_LENGTH",
    "Organization",
    "OrganizationAllowList",
    "OrganizationPolicy",
    "OrganizationRejected",
    "organization_of",
]
