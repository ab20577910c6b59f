"""A verdict on a token that a person can act on: what it claims, how that compares to this
service's configuration, and whether (and why not) the real verification accepts it.

With several issuers (AUTH0["DOMAINS"]), the token's `iss` picks the issuer whose keys are looked
up, exactly as a request would: a token of another issuer is reported without fetching anything."""

import datetime
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auth0_jwt.issuers import MultiIssuerVerifier
from auth0_jwt.keystore import KeySetUnavailable, UnknownSigningKey
from auth0_jwt.organizations import OrganizationPolicy, OrganizationRejected, organization_of
from auth0_jwt.token_cache import CachingTokenVerifier
from auth0_jwt.verifier import TokenRejected, TokenVerifier, decode_segment

# One issuer's verifier (caching or not), or the verifier of several issuers.
OneIssuerVerifier = TokenVerifier | CachingTokenVerifier
InspectedVerifier = OneIssuerVerifier | MultiIssuerVerifier


@dataclass
class Inspection:
    """The report: its lines, and whether this service would accept the token."""

    lines: list[str] = field(default_factory=list)
    accepted: bool = False


def shown(value: object) -> str:
    """An untrusted value on one printable line."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 120 else text[:117] + "..."


def human_duration(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds >= 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def human_time(value: object, now: float) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{shown(value)} (not a number of seconds)"
    try:
        moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{shown(value)} (out of range)"
    relative = value - now
    when = f"in {human_duration(relative)}" if relative >= 0 else f"{human_duration(relative)} ago"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({when})"


def strip_scheme(raw: str) -> str:
    raw = raw.strip()
    scheme, _, rest = raw.partition(" ")
    return rest.strip() if scheme.lower() in ("bearer", "dpop") else raw


def inspect_token(
    raw_token: str,
    *,
    verifier: InspectedVerifier,
    now: float | None = None,
    dpop_mode: str = "allowed",
    organizations: OrganizationPolicy | None = None,
) -> Inspection:
    """Describe `raw_token` and verify it with `verifier` (one issuer's, or the verifier of
    several); raise TokenRejected if it is no JWT.

    `dpop_mode` (AUTH0_DPOP) decides whether a DPoP-bound token can be accepted at all;
    `organizations` is the AUTH0["ORGANIZATIONS"] policy, for the words on the organization."""
    now = time.time() if now is None else now
    header = decode_segment(raw_token, 0, "header") if raw_token.count(".") == 2 else None
    if header is None:
        raise TokenRejected("This is not a JWT: expected three segments separated by dots.")
    claims = decode_segment(raw_token, 1, "payload")
    report = Inspection()
    line = report.lines.append

    issuer_verifier, issuer_words = _issuer(verifier, claims.get("iss"))
    line(f"Header:      alg={shown(header.get('alg'))} kid={shown(header.get('kid'))}")
    if issuer_verifier is None:
        line("Signing key: not looked up: the token's issuer is not configured (nothing fetched)")
    else:
        line(f"Signing key: {_describe_key(issuer_verifier, header.get('kid'))}")
    line(f"Issuer:      {issuer_words}")
    line(f"Audience:    {_describe_audience(claims.get('aud'), verifier.audience)}")
    line(f"Subject:     {shown(claims.get('sub'))}")
    for name, label in (("iat", "Issued at"), ("nbf", "Not before"), ("exp", "Expires")):
        if name in claims:
            line(f"{label + ':':<13}{human_time(claims[name], now)}")
    line(f"Scope:       {shown(claims.get('scope', '(none)'))}")
    line(f"Permissions: {shown(claims.get('permissions', '(none)'))}")
    bound = "cnf" in claims
    line(f"DPoP:        {_describe_binding(claims)}")
    line(f"Organization: {_describe_organization(claims, organizations or OrganizationPolicy())}")
    try:
        verifier.verify(raw_token)
    except TokenRejected as exc:
        line(f"Verdict:     REJECTED - {exc.reason}")
    except KeySetUnavailable as exc:
        line(f"Verdict:     REJECTED - the signing keys could not be loaded ({exc}).")
    else:
        if not bound:
            report.accepted = True
            line("Verdict:     ACCEPTED - this service would accept this token.")
        elif dpop_mode == "off" or not _jkt(claims):
            line(
                "Verdict:     REJECTED - the token is bound to a key (cnf), so it is refused as "
                "a Bearer token, and this service does not accept it with DPoP."
            )
        else:
            report.accepted = True
            line(
                "Verdict:     ACCEPTED - with the DPoP scheme and a proof signed by the key "
                "cnf.jkt names; as a Bearer token it is refused."
            )
    return report


def _issuer(verifier: InspectedVerifier, iss: object) -> tuple[OneIssuerVerifier | None, str]:
    """The verifier of the token's issuer (None when it is not configured) and the words on it."""
    if not isinstance(verifier, MultiIssuerVerifier):  # one issuer
        return verifier, _compare(iss, verifier.issuer, "the configured issuer")
    issuers = verifier.issuers
    issuer_verifier = verifier.for_issuer(iss)
    if issuer_verifier is not None:
        return issuer_verifier, f"{shown(iss)} (one of the {len(issuers)} configured issuers)"
    return None, f"{shown(iss)} (is NOT one of the configured issuers: {', '.join(issuers)})"


def _describe_organization(claims: Mapping[str, Any], policy: OrganizationPolicy) -> str:
    """The token's organization and what the policy says of it."""
    try:
        organization = organization_of(claims)
    except OrganizationRejected as exc:
        return f"refused - {exc.reason}"
    if organization is None:
        words = "none (no org_id claim)"
    else:
        name = shown(organization.name) if organization.name is not None else "(none)"
        words = f"org_id={shown(organization.id)} org_name={name}"
    try:
        policy.check(organization)
    except OrganizationRejected as exc:
        return f"{words}; refused - {exc.reason}"
    if policy.required:
        return f"{words}; this service's policy: {policy.describe()}"
    return words


def _jkt(claims: Mapping[str, Any]) -> str | None:
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) and jkt else None


def _describe_binding(claims: Mapping[str, Any]) -> str:
    """Whether the token is DPoP-bound (RFC 9449 section 6: `cnf.jkt`), and to which key."""
    if "cnf" not in claims:
        return "not bound (no cnf claim): a Bearer token"
    jkt = _jkt(claims)
    if jkt is None:
        return f"cnf without a jkt thumbprint ({shown(claims['cnf'])}): refused"
    return f"DPoP-bound: cnf.jkt={shown(jkt)} (the key's RFC 7638 thumbprint)"


def _describe_key(verifier: OneIssuerVerifier, kid: object) -> str:
    if not isinstance(kid, str) or not kid:
        return "the token names no key (no kid)"
    store = verifier.key_store
    try:
        store.get_key(kid)
    except KeySetUnavailable as exc:
        return f"cannot tell: the JWKS ({store.description}) is unavailable: {exc}"
    except UnknownSigningKey:
        known = ", ".join(sorted(store.key_set.keys)) if store.key_set else "none"
        return f"{shown(kid)} is NOT in the JWKS ({store.description}); it has: {known}"
    return f"{shown(kid)} is in the JWKS ({store.description})"


def _compare(value: object, expected: str, what: str) -> str:
    if value == expected:
        return f"{shown(value)} (matches {what})"
    return f"{shown(value)} (does NOT match {what} {expected})"


def _describe_audience(value: object, expected: str) -> str:
    if isinstance(value, list) and expected in value:
        return f"{shown(value)} (includes this API's audience)"
    return _compare(value, expected, "this API's audience")
