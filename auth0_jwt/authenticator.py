"""The request authenticator: the whole access-token check of one HTTP request, for any framework.

It knows a request only as data (`HTTPRequest`: the method, the URL and the headers it reads) and
answers with a value: `Authenticated` (the verified token, its scheme and, where a user loader is
configured, the user), `None` when the request carries no credentials of an accepted scheme, or an
`AuthError` that carries the status, the `detail` and the headers of the answer (the RFC 6750 or
RFC 9449 `WWW-Authenticate` challenge, `Retry-After`, `DPoP-Nonce`). Each adapter (DRF, plain
Django views, Django Ninja) only turns its framework's request into an `HTTPRequest` and an
`AuthError` into its framework's answer.

The steps, for `Authorization: Bearer <JWT>`: no token in the URL -> the header's grammar -> the
token (verifier and token cache) -> not bound to a key (`cnf`) -> the user. For
`Authorization: DPoP <JWT>` with a `DPoP` proof header (RFC 9449): the header's grammar -> the
proof's syntax -> the token -> its `cnf.jkt` -> the proof against this request -> the proof's key
is the token's -> the replay store -> the user. `dpop_mode` (off, allowed, required) decides which
schemes are accepted.

`authenticate()` runs on the calling thread. `aauthenticate()` is for async views: it does the
same, but nothing that can wait on the network or a database runs on the event loop (a key set
that is missing, stale or lacks the token's `kid`, the replay store, the user lookup): those run in
a worker thread. This module imports no web framework; the Django wiring is in runtime.py.
"""

import hmac
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from asgiref.sync import sync_to_async

from auth0_jwt.dpop import (
    DPoPVerifier,
    MalformedProof,
    NonceRequired,
    ProofRejected,
    ReplayStoreReset,
    ReplayStoreUnavailable,
    VerifiedProof,
    check_proof_syntax,
    replay_key,
)
from auth0_jwt.keystore import FetchNeeded, KeySetUnavailable, no_fetching
from auth0_jwt.organizations import OTHER_ORGANIZATION, OrganizationAllowList
from auth0_jwt.verifier import TokenRejected, VerifiedToken, decode_segment

# The logger operators route the rejection lines by; its name is kept from the first release.
logger = logging.getLogger("auth0_jwt.authentication")

REALM = "api"
BEARER = "Bearer"
DPOP = "DPoP"
DPOP_MODES = ("off", "allowed", "required")
RETRY_AFTER_SECONDS = "5"

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 6750 section 3: error_description and scope use %x20-21 / %x23-5B / %x5D-7E only.
_CHALLENGE_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")

NOT_PROVIDED = "Authentication credentials were not provided."
TOKEN_IN_URL = "Send the access token in the Authorization header, not in the URL."  # noqa: S105
BOUND_AS_BEARER = (
    "The token is bound to a DPoP key (cnf claim), so it cannot be used as a Bearer token."
)
DPOP_REQUIRED = (
    "This API accepts DPoP-bound tokens only: send Authorization: DPoP <token> with a DPoP proof."
)
NOT_BOUND = "The token is not bound to a key (no cnf.jkt claim), so it cannot be used with DPoP."
OTHER_KEY = "The token is bound to another key than the one that signed the DPoP proof."
NO_PROOF = "A DPoP request needs exactly one DPoP header holding a proof."
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."
KEYS_UNAVAILABLE = (
    "Tokens cannot be verified right now: the identity provider's signing keys are not loaded "
    "yet. Try again shortly."
)
DATABASE_UNAVAILABLE = "The service's database is unavailable. Try again shortly."
REPLAY_CACHE_UNAVAILABLE = (
    "DPoP proofs cannot be checked right now: the replay cache is unavailable. Try again shortly."
)
REPLAY_CACHE_RESET = (
    "The DPoP replay cache was reset, so proofs issued before {} are refused: sign a new proof."
)

# The answers, by `AuthError.code`: the HTTP status of each.
STATUS_BY_CODE = {
    "not_authenticated": 401,
    "invalid_request": 400,
    "invalid_token": 401,
    "invalid_dpop_proof": 401,
    "use_dpop_nonce": 401,
    "insufficient_scope": 403,
    "signing_keys_unavailable": 503,
    "database_unavailable": 503,
    "replay_cache_unavailable": 503,
}
# The codes whose answer carries an RFC 6750 / RFC 9449 challenge with an `error` parameter.
CHALLENGE_CODES = frozenset(
    {"invalid_request", "invalid_token", "invalid_dpop_proof", "use_dpop_nonce"}
)


# --- What goes in and what comes out --------------------------------------------------------------


class HTTPRequest(Protocol):
    """What the authenticator reads of a request; each adapter wraps its framework's request."""

    @property
    def method(self) -> str: ...

    @property
    def query_string(self) -> str:
        """The raw query string, for the token-in-URL rule."""
        ...

    def header(self, name: str) -> str | None:
        """The header's value (repeated headers joined by commas), or None when absent."""
        ...

    def url(self) -> str:
        """The request's absolute URL as the application sees it (behind the proxy settings): the
        `htu` a DPoP proof must name. Called for DPoP requests only."""
        ...


@dataclass(frozen=True, slots=True)
class SimpleRequest:
    """An `HTTPRequest` from plain values: for frameworks without an adapter, and for tests."""

    method: str
    absolute_url: str
    headers: Mapping[str, str]
    client: str | None = None
    request_id: str | None = None

    @property
    def query_string(self) -> str:
        return self.absolute_url.partition("?")[2].partition("#")[0]

    def header(self, name: str) -> str | None:
        name = name.lower()
        values = [value for key, value in self.headers.items() if key.lower() == name]
        return ",".join(values) if values else None

    def url(self) -> str:
        return self.absolute_url


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A request whose token (and DPoP proof) passed every check."""

    token: VerifiedToken
    scheme: str  # "Bearer" or "DPoP"
    user: Any = None  # what the user loader returned; None without one


class AuthError(Exception):
    """A refusal, as a value an adapter turns into its framework's answer: `status`, `code` (the
    RFC 6750 / RFC 9449 error, or what else went wrong), `detail` (a sentence safe to show the
    caller) and `headers` (the challenge, `Retry-After`, `DPoP-Nonce`)."""

    def __init__(
        self,
        code: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        *,
        scopes: tuple[str, ...] = (),
    ):
        super().__init__(detail)
        self.code = code
        self.status = STATUS_BY_CODE[code]
        self.detail = detail
        self.headers = dict(headers or {})
        self.scopes = scopes  # insufficient_scope: the scopes the endpoint needs

    @property
    def body(self) -> dict[str, str]:
        """The JSON body every adapter answers with, as DRF writes it."""
        return {"detail": self.detail}

    @property
    def scheme(self) -> str | None:
        """The scheme of the challenge (`Bearer` or `DPoP`), or None for a 503."""
        challenge = self.headers.get("WWW-Authenticate", "")
        return challenge.partition(" ")[0] or None

    def __repr__(self) -> str:
        return f"AuthError({self.code!r}, {self.detail!r})"


class UserRejected(Exception):
    """Raised by a user loader: the token is valid but its user may not proceed (disabled, or a
    `sub` the user table cannot hold); `reason` is shown to the caller."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UserUnavailable(Exception):
    """Raised by a user loader: the user cannot be loaded now (the database is down): a 503."""


class UserLoader(Protocol):
    """Maps a verified token to the application's user (database users, or token users)."""

    def load(self, token: VerifiedToken) -> Any: ...

    async def aload(self, token: VerifiedToken) -> Any: ...


class ReplayStore(Protocol):
    """Remembers DPoP proofs: False when `key` is remembered already and not expired."""

    def remember(self, key: str, expires_at: float) -> bool: ...


class TokenVerifying(Protocol):
    """A token verifier: `TokenVerifier`, `CachingTokenVerifier` or `MultiIssuerVerifier` (an
    optional `may_fetch(raw_token) -> bool` keeps async requests off a worker thread)."""

    def verify(self, raw_token: str) -> VerifiedToken: ...


# An endpoint's scopes: names (one name alone counts as one), or names per HTTP method.
Scopes = str | Iterable[str] | Mapping[str, str | Iterable[str]]


def scopes_for_method(required: Scopes, method: str) -> tuple[str, ...]:
    """The scopes an endpoint needs for `method`: `required` is a sequence of scope names (one
    name alone counts as one scope), or a mapping from HTTP method (any case) to such a sequence;
    a method the mapping does not name needs none."""
    scopes: str | Iterable[str] = required
    if isinstance(required, Mapping):
        method = method.upper()
        scopes = next((s for name, s in required.items() if name.upper() == method), ())
    if isinstance(scopes, str):
        return (scopes,)
    return tuple(scopes)


_allow_lists: dict[str | tuple[str, ...], OrganizationAllowList] = {}


def organization_allow_list(organizations: str | Iterable[str]) -> OrganizationAllowList:
    """The allow-list of an endpoint's `organizations` (an id or name, or a list), built once."""
    key = organizations if isinstance(organizations, str) else tuple(organizations)
    allowed = _allow_lists.get(key)
    if allowed is None:
        allowed = OrganizationAllowList(key)
        if len(_allow_lists) < 1024:  # endpoints' constants: a handful
            _allow_lists[key] = allowed
    return allowed


# --- Challenges -----------------------------------------------------------------------------------


def _quoted(value: str) -> str:
    return '"' + _CHALLENGE_UNSAFE.sub("", value) + '"'


def bearer_challenge(**parameters: str) -> str:
    """`Bearer realm="api", name="value", ...`, values stripped of characters RFC 6750 forbids."""
    items = [f"realm={_quoted(REALM)}"] + [
        f"{name}={_quoted(value)}" for name, value in parameters.items() if value
    ]
    return "Bearer " + ", ".join(items)


def dpop_challenge(algorithms: tuple[str, ...], **parameters: str) -> str:
    """`DPoP algs="ES256", name="value", ...` (RFC 9449 section 7.1)."""
    items = [f"algs={_quoted(' '.join(algorithms))}"] + [
        f"{name}={_quoted(value)}" for name, value in parameters.items() if value
    ]
    return "DPoP " + ", ".join(items)


# --- The authenticator ----------------------------------------------------------------------------


class RequestAuthenticator:
    """Authenticates one request: see the module's docstring for the steps.

    `token_verifier` is a `TokenVerifier` or `CachingTokenVerifier`; `dpop_verifier` and
    `replay_store` are needed unless `dpop_mode` is "off"; `user_loader` maps a verified token to
    a user (without one, `Authenticated.user` is None).
    """

    def __init__(
        self,
        *,
        token_verifier: TokenVerifying,
        dpop_verifier: DPoPVerifier | None = None,
        replay_store: ReplayStore | None = None,
        user_loader: UserLoader | None = None,
        dpop_mode: str = "allowed",
        dpop_algorithms: tuple[str, ...] = ("ES256",),
    ):
        if dpop_mode not in DPOP_MODES:
            raise ValueError(f"dpop_mode must be one of {', '.join(DPOP_MODES)}")
        if dpop_mode != "off" and (dpop_verifier is None or replay_store is None):
            raise ValueError("DPoP needs a dpop_verifier and a replay_store")
        self.token_verifier = token_verifier
        self.dpop_verifier = dpop_verifier
        self.replay_store = replay_store
        self.user_loader = user_loader
        self.dpop_mode = dpop_mode
        self.dpop_algorithms = tuple(dpop_algorithms)
        self._no_credentials = AuthError(
            "not_authenticated", NOT_PROVIDED, {"WWW-Authenticate": self.no_credentials_challenge()}
        )

    # -- Answers --

    def no_credentials_challenge(self) -> str:
        """The challenge of a 401 without credentials: the schemes accepted in this mode."""
        if self.dpop_mode == "off":
            return bearer_challenge()
        if self.dpop_mode == "required":
            return dpop_challenge(self.dpop_algorithms)
        return bearer_challenge() + ", " + dpop_challenge(self.dpop_algorithms)

    def not_authenticated(self) -> AuthError:
        """The 401 of a request without credentials, for adapters that require a token."""
        return self._no_credentials

    def error(
        self, code: str, detail: str, *, scheme: str = BEARER, nonce: str | None = None
    ) -> AuthError:
        """An `AuthError` with the headers its code calls for, challenging with `scheme`."""
        if code in CHALLENGE_CODES:
            headers = {
                "WWW-Authenticate": self._challenge(scheme, error=code, error_description=detail)
            }
            if nonce is not None:
                headers["DPoP-Nonce"] = nonce
        else:
            headers = {"Retry-After": RETRY_AFTER_SECONDS}
        return AuthError(code, detail, headers)

    def insufficient_scope(
        self, required: Iterable[str], *, token: VerifiedToken | None = None
    ) -> AuthError:
        """The 403 for a valid token that lacks a scope in `required`: challenged with the scheme
        the token came with (only a DPoP-bound token, `cnf`, gets this far under DPoP)."""
        required = tuple(required)
        scopes = " ".join(required)
        scheme = DPOP if token is not None and "cnf" in token.claims else BEARER
        return AuthError(
            "insufficient_scope",
            f"The access token lacks the scope this endpoint needs: {scopes}.",
            {"WWW-Authenticate": self._challenge(scheme, error="insufficient_scope", scope=scopes)},
            scopes=required,
        )

    def check_scopes(self, token: VerifiedToken, required: Iterable[str]) -> AuthError | None:
        """None when `token` holds every scope in `required` (from `scope` or RBAC
        `permissions`), else the 403."""
        required = tuple(required)
        if token.has_scopes(required):
            return None
        return self.insufficient_scope(required, token=token)

    def check_organization(
        self, token: VerifiedToken, organizations: str | Iterable[str]
    ) -> AuthError | None:
        """None when `token` acts for one of `organizations` (an organization id `org_...`, or a
        name, compared lower-cased with `org_name`; or a list of them), else the 401
        `invalid_token` (Auth0: a token of another organization is deemed invalid)."""
        if token.organization in organization_allow_list(organizations):
            return None
        self._log_rejection(None, OTHER_ORGANIZATION, token=token)
        scheme = DPOP if "cnf" in token.claims else BEARER
        return self.error("invalid_token", OTHER_ORGANIZATION, scheme=scheme)

    def _challenge(self, scheme: str, **parameters: str) -> str:
        if scheme == DPOP:
            return dpop_challenge(self.dpop_algorithms, **parameters)
        return bearer_challenge(**parameters)

    # -- The pipeline --

    def authenticate(self, request: HTTPRequest) -> Authenticated | AuthError | None:
        """The verdict on `request`: see the module's docstring."""
        try:
            credentials = self._credentials(request)
            if credentials is None:
                return None
            scheme, raw_token = credentials
            if scheme == BEARER:
                token = self._bearer_token(request, raw_token, self._verify(request, raw_token))
            else:
                raw_proof = self._get_dpop_proof(request)
                token = self._verify(request, raw_token, scheme=DPOP)
                proof = self._check_proof(request, raw_proof, raw_token, token)
                self._check_replay(request, proof, token, self._remember(proof))
            loader = self.user_loader
            user = self._load_user(loader, request, token, scheme) if loader else None
        except AuthError as error:
            return error
        return Authenticated(token, scheme, user)

    async def aauthenticate(self, request: HTTPRequest) -> Authenticated | AuthError | None:
        """`authenticate()` for async views: nothing waits on the event loop."""
        try:
            credentials = self._credentials(request)
            if credentials is None:
                return None
            scheme, raw_token = credentials
            if scheme == BEARER:
                token = await self._averify(request, raw_token)
                token = self._bearer_token(request, raw_token, token)
            else:
                raw_proof = self._get_dpop_proof(request)
                token = await self._averify(request, raw_token, scheme=DPOP)
                proof = self._check_proof(request, raw_proof, raw_token, token)
                fresh = await sync_to_async(self._remember)(proof)
                self._check_replay(request, proof, token, fresh)
            user = None
            if self.user_loader is not None:
                user = await self._aload_user(self.user_loader, request, token, scheme)
        except AuthError as error:
            return error
        return Authenticated(token, scheme, user)

    def _credentials(self, request: HTTPRequest) -> tuple[str, str] | None:
        """(scheme, raw token) from the Authorization header, or None without credentials."""
        self._reject_token_in_url(request)
        header = request.header("Authorization")
        if header is None or not header.strip():
            return None
        raw_token = self._raw_token(header, BEARER)
        if raw_token is not None:
            if self.dpop_mode == "required":
                raise self.error("invalid_token", DPOP_REQUIRED, scheme=DPOP)
            return BEARER, raw_token
        if self.dpop_mode == "off":
            return None
        raw_token = self._raw_token(header, DPOP)
        return None if raw_token is None else (DPOP, raw_token)

    def _reject_token_in_url(self, request: HTTPRequest) -> None:
        """Tokens in URLs end up in logs and browser history; RFC 6750 lets us refuse them."""
        query = request.query_string
        if query and ("access_token" in query or "%" in query):
            if any(name == "access_token" for name, _ in parse_qsl(query, keep_blank_values=True)):
                raise self.error("invalid_request", TOKEN_IN_URL)

    def _raw_token(self, header: str, scheme: str) -> str | None:
        """The token of a `scheme` header (case-insensitive), or None for other schemes."""
        # Only HTTP's whitespace (SP, HTAB) separates the scheme from the token: str.split() would
        # also split on NBSP, NEL, VT, FF and \x1c-\x1f, so a proxy and this API would read the
        # header differently. (Splitting on " " with tabs made spaces is that, without a regex.)
        parts = [part for part in header.replace("\t", " ").split(" ") if part]
        if parts[0].lower() != scheme.lower():
            return None
        if len(parts) == 1:
            raise self.error(
                "invalid_request",
                f"The Authorization header has no token after {scheme}.",
                scheme=scheme,
            )
        if len(parts) > 2:
            raise self.error(
                "invalid_request",
                "The Authorization header must hold exactly one token.",
                scheme=scheme,
            )
        if not B64TOKEN.fullmatch(parts[1]):
            raise self.error(
                "invalid_request",
                "The access token contains characters that are not allowed.",
                scheme=scheme,
            )
        return parts[1]

    def _verify(
        self, request: HTTPRequest, raw_token: str, *, scheme: str = BEARER
    ) -> VerifiedToken:
        """Verify the token; a rejection is a 401, missing keys a 503."""
        try:
            return self.token_verifier.verify(raw_token)
        except TokenRejected as exc:
            self._log_rejection(request, exc.reason, raw_token=raw_token)
            raise self.error("invalid_token", exc.reason, scheme=scheme) from None
        except KeySetUnavailable as exc:
            logger.warning("Token not verified: signing keys unavailable (%s)", exc)
            raise self.error("signing_keys_unavailable", KEYS_UNAVAILABLE) from None

    async def _averify(
        self, request: HTTPRequest, raw_token: str, *, scheme: str = BEARER
    ) -> VerifiedToken:
        """`_verify`, in a worker thread when it could wait for a JWKS fetch. On the event loop it
        never fetches: a key set that turned stale since `may_fetch` looked (a fetch now due) sends
        it to the thread after all."""
        can_wait = getattr(self.token_verifier, "may_fetch", None)
        if can_wait is not None and not can_wait(raw_token):
            try:
                with no_fetching():
                    return self._verify(request, raw_token, scheme=scheme)
            except FetchNeeded:
                pass
        return await sync_to_async(self._verify, thread_sensitive=False)(
            request, raw_token, scheme=scheme
        )

    def _bearer_token(
        self, request: HTTPRequest, raw_token: str, token: VerifiedToken
    ) -> VerifiedToken:
        if "cnf" in token.claims:  # RFC 9449 section 7.2: a bound token is not a Bearer token
            self._log_rejection(request, BOUND_AS_BEARER, token=token)
            raise self.error("invalid_token", BOUND_AS_BEARER)
        return token

    def _get_dpop_proof(self, request: HTTPRequest) -> str:
        """The `DPoP` header: exactly one, holding one compact JWS (else a 400)."""
        raw_proof = request.header("DPoP")
        if raw_proof is None:
            raise self.error("invalid_request", NO_PROOF, scheme=DPOP)
        raw_proof = raw_proof.strip(" \t")
        try:
            # Two DPoP headers reach the application joined by a comma, which no JWS holds.
            check_proof_syntax(raw_proof)
        except MalformedProof as exc:
            raise self.error("invalid_request", exc.reason, scheme=DPOP) from None
        return raw_proof

    def _dpop(self) -> tuple[DPoPVerifier, ReplayStore]:
        """The DPoP verifier and replay store, which `__init__` requires unless DPoP is off (and
        then no request gets to a proof)."""
        if self.dpop_verifier is None or self.replay_store is None:
            raise RuntimeError("DPoP needs a dpop_verifier and a replay_store")
        return self.dpop_verifier, self.replay_store

    def _check_proof(
        self, request: HTTPRequest, raw_proof: str, raw_token: str, token: VerifiedToken
    ) -> VerifiedProof:
        """The token's `cnf.jkt`, the proof against this request, and the proof's key."""
        confirmation = token.claims.get("cnf")
        jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
        if not isinstance(jkt, str) or not jkt:
            self._log_rejection(request, NOT_BOUND, token=token)
            raise self.error("invalid_token", NOT_BOUND, scheme=DPOP)
        try:
            dpop_verifier, _ = self._dpop()
            proof = dpop_verifier.verify(
                raw_proof, method=request.method, url=request.url(), access_token=raw_token
            )
        except MalformedProof as exc:
            raise self.error("invalid_request", exc.reason, scheme=DPOP) from None
        except NonceRequired as exc:  # not an attack: how a client learns the current nonce
            raise self.error("use_dpop_nonce", exc.reason, scheme=DPOP, nonce=exc.nonce) from None
        except ProofRejected as exc:
            self._log_rejection(request, exc.reason, token=token, event="dpop_proof_rejected")
            raise self.error("invalid_dpop_proof", exc.reason, scheme=DPOP) from None
        if not hmac.compare_digest(proof.thumbprint, jkt):
            self._log_rejection(request, OTHER_KEY, token=token)
            raise self.error("invalid_token", OTHER_KEY, scheme=DPOP)
        return proof

    def _remember(self, proof: VerifiedProof) -> bool:
        """Record the proof in the shared store; False if it was seen before."""
        dpop_verifier, replay_store = self._dpop()
        expires_at = dpop_verifier.expires_at(proof)
        try:
            return replay_store.remember(replay_key(proof.thumbprint, proof.jti), expires_at)
        except ReplayStoreReset as exc:  # it may have been accepted before the store lost it
            issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.ceil(exc.not_before)))
            raise self.error(
                "invalid_dpop_proof", REPLAY_CACHE_RESET.format(issued), scheme=DPOP
            ) from None
        except ReplayStoreUnavailable as exc:
            logger.error("DPoP proof not checked for replay: %s", exc)
            raise self.error("replay_cache_unavailable", REPLAY_CACHE_UNAVAILABLE) from None

    def _check_replay(
        self, request: HTTPRequest, proof: VerifiedProof, token: VerifiedToken, fresh: bool
    ) -> None:
        if not fresh:
            self._log_rejection(request, REPLAYED, token=token, event="dpop_proof_rejected")
            raise self.error("invalid_dpop_proof", REPLAYED, scheme=DPOP)

    def _load_user(
        self, loader: UserLoader, request: HTTPRequest, token: VerifiedToken, scheme: str
    ) -> Any:
        try:
            return loader.load(token)
        except UserRejected as exc:
            self._log_rejection(request, exc.reason, token=token)
            raise self.error("invalid_token", exc.reason, scheme=scheme) from None
        except UserUnavailable:
            raise self.error("database_unavailable", DATABASE_UNAVAILABLE) from None

    async def _aload_user(
        self, loader: UserLoader, request: HTTPRequest, token: VerifiedToken, scheme: str
    ) -> Any:
        try:
            return await loader.aload(token)
        except UserRejected as exc:
            self._log_rejection(request, exc.reason, token=token)
            raise self.error("invalid_token", exc.reason, scheme=scheme) from None
        except UserUnavailable:
            raise self.error("database_unavailable", DATABASE_UNAVAILABLE) from None

    def _log_rejection(
        self,
        request: HTTPRequest | None,
        reason: str,
        *,
        raw_token: str | None = None,
        token: VerifiedToken | None = None,
        event: str = "token_rejected",
    ) -> None:
        """One INFO line per rejected token (or DPoP proof): reason, kid, iss, client, request id.
        No token, no proof."""
        header: Mapping[str, Any] = {}
        claims: Mapping[str, Any] = {}
        if token is not None:
            header, claims = token.header, token.claims
        elif raw_token is not None:
            header, claims = _unverified_parts(raw_token)
        logger.info(
            "DPoP proof rejected: %s" if event == "dpop_proof_rejected" else "Token rejected: %s",
            reason,
            extra={
                "event": event,
                "reason": reason,
                "kid": _printable(header.get("kid")),
                "iss": _printable(claims.get("iss")),
                "client": getattr(request, "client", None),
                "request_id": getattr(request, "request_id", None),
            },
        )


def _unverified_parts(raw_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims for logging only, never trusted; each empty where it cannot be read."""
    parts: list[dict[str, Any]] = []
    for index, name in enumerate(("header", "payload")):
        try:
            parts.append(decode_segment(raw_token, index, name))
        except TokenRejected:
            parts.append({})
    return parts[0], parts[1]


def _printable(value: object, limit: int = 200) -> str | None:
    """A short, single-line string of an untrusted value, safe for a log line."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text.encode("unicode_escape").decode("ascii")[:limit]


__all__ = [
    "AuthError",
    "Authenticated",
    "HTTPRequest",
    "RequestAuthenticator",
    "SimpleRequest",
    "UserLoader",
    "UserRejected",
    "UserUnavailable",
    "bearer_challenge",
    "dpop_challenge",
    "organization_allow_list",
    "scopes_for_method",
]
