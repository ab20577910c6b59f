"""DPoP proofs (RFC 9449): check a proof JWT against the request it came with.

It knows JOSE and the request facts it is given (method, URL, access token), not Django users,
HTTP headers or the replay store: the authentication class reads the headers, checks the token's
`cnf.jkt` against `VerifiedProof.thumbprint` and records `VerifiedProof.jti` (see replay.py).

The checks of RFC 9449 section 4.3, in order: one compact JWS no longer than `max_length`; `typ`
is `dpop+jwt`; `alg` is one of `algorithms` (asymmetric only); `jwk` is a public key whose type
fits `alg` and the signature verifies with it; the claims `jti`, `htm`, `htu`, `iat` and `ath`
are present; `htm` is the method; `htu` is the request URL (RFC 3986 normalised, query and
fragment ignored); `iat` is at most `max_age` seconds old and at most `iat_leeway` seconds ahead;
`ath` is the base64url SHA-256 of the access token.
"""

import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import get_default_algorithms

from auth0_jwt.jws import (
    COMPACT_JWS,
    MalformedSegment,
    b64url,
    b64url_decode,
    is_numeric_date,
    json_segment,
)
from auth0_jwt.keystore import (
    KEY_TYPES_BY_ALGORITHM_PREFIX,
    MIN_RSA_KEY_BITS,
    PublicKeyFromParameters,
    _key_from_parameters,
)

PROOF_TYPE = "dpop+jwt"
# An unsecured JWS (RFC 7515 appendix A.5, `alg: none`): a header and a payload, then a dot and an
# empty signature. It is one JWT, so not a syntax error, but never an acceptable proof.
UNSECURED_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")
DEFAULT_ALGORITHMS = ("ES256",)
DEFAULT_IAT_LEEWAY = 30  # seconds a proof's iat may be ahead of this server's clock (Auth0's SDK)
DEFAULT_MAX_AGE = 300  # seconds a proof's iat may be behind it (Auth0's SDK)
DEFAULT_MAX_LENGTH = 4096  # characters; an ES256 proof is about 500, an RSA-4096 one under 2500
DEFAULT_NONCE_LIFETIME = 60  # seconds of one nonce window; a nonce is accepted for one or two
REQUIRED_CLAIMS = ("jti", "htm", "htu", "iat", "ath")
MAX_JTI_LENGTH = 256
CURVES_BY_ALGORITHM = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
# Members of a JWK that only a private (or symmetric) key has (RFC 7518 section 6).
PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 section 3.2: the required members of each key type, which the thumbprint hashes.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
DEFAULT_PORTS = {"http": 80, "https": 443}
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
UNRESERVED_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 pchar (unreserved, sub-delims, ":" and "@") plus "/" and "%": kept as they are.
PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class ProofRejected(Exception):
    """The DPoP proof is not acceptable; `reason` is a sentence safe to show the caller.

    `reason` never repeats a value taken from the proof.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MalformedProof(ProofRejected):
    """The DPoP header does not hold exactly one compact JWS (a request syntax error)."""


class NonceRequired(ProofRejected):
    """Server nonces are on and the proof carries no current one (RFC 9449 section 9:
    `use_dpop_nonce`); `nonce` is the one the client should sign into its next proof."""

    def __init__(self, reason: str, nonce: str):
        super().__init__(reason)
        self.nonce = nonce


class ReplayStoreUnavailable(Exception):
    """The replay store (replay.py) could not be asked; `str()` says why in a few words."""


class ReplayStoreReset(Exception):
    """The replay store lost what it remembered (a restart without persistence, a restore to an
    empty table): a proof issued before `not_before` (seconds since the epoch) may have been
    accepted already, so it is refused and the client signs a new one."""

    def __init__(self, not_before: float):
        super().__init__(f"proofs issued before {not_before:.0f} are refused")
        self.not_before = not_before


def replay_key(thumbprint: str, jti: str) -> str:
    """The replay store's key of a proof: jti values are unique per client key, not across
    clients."""
    return hashlib.sha256(f"{thumbprint}\n{jti}".encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A proof that passed every check of its own, with what the caller still has to check."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    jti: str
    issued_at: float
    thumbprint: str  # RFC 7638 SHA-256 thumbprint of `jwk`: the token's cnf.jkt must equal it


class DPoPVerifier:
    """Verifies DPoP proofs; `now` is the wall clock of the iat window (tests inject one)."""

    def __init__(
        self,
        *,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        iat_leeway: float = DEFAULT_IAT_LEEWAY,
        max_age: float = DEFAULT_MAX_AGE,
        max_length: int = DEFAULT_MAX_LENGTH,
        nonce_secret: bytes | None = None,
        nonce_lifetime: int = DEFAULT_NONCE_LIFETIME,
        now: Callable[[], float] = time.time,
    ):
        known = get_default_algorithms()
        unsupported = [
            name
            for name in algorithms
            if name[:2] not in KEY_TYPES_BY_ALGORITHM_PREFIX or name not in known
        ]
        if not algorithms or unsupported:
            raise ValueError("DPoP algorithms must be asymmetric (RS*, PS*, ES*)")
        self.algorithms = tuple(algorithms)
        self.iat_leeway = iat_leeway
        self.max_age = max_age
        self.max_length = max_length
        # Server nonces (RFC 9449 section 9), stateless: an HMAC of the current time window, so
        # every worker and instance sharing the secret issues and accepts the same ones.
        self.nonce_secret = nonce_secret
        self.nonce_lifetime = nonce_lifetime
        self.now = now
        self._algorithms = {name: known[name] for name in self.algorithms}

    def verify(self, proof: str, *, method: str, url: str, access_token: str) -> VerifiedProof:
        """Return the verified proof; raise MalformedProof or ProofRejected."""
        if len(proof) > self.max_length:
            raise ProofRejected(f"The DPoP proof is longer than {self.max_length} characters.")
        check_proof_syntax(proof)
        if UNSECURED_JWS.fullmatch(proof):
            raise ProofRejected(
                "The DPoP proof is not signed: its signature part is empty (alg none is never "
                f"accepted); sign it with one of {', '.join(self.algorithms)}."
            )
        header = self._get_header(proof)
        alg = header["alg"]
        public_key, thumbprint = public_key_from_jwk(header["jwk"], alg)
        signing_input, _, signature = proof.rpartition(".")
        try:
            valid = self._algorithms[alg].verify(
                signing_input.encode("ascii"), public_key, b64url_decode(signature)
            )
        except ValueError:
            valid = False
        if not valid:
            raise ProofRejected("The DPoP proof's signature does not verify with its jwk.")
        claims = _decode(proof, 1, "The DPoP proof's payload is not a JSON object.")
        self._check_claims(claims, method=method, url=url, access_token=access_token)
        return VerifiedProof(
            header=header,
            claims=claims,
            jti=claims["jti"],
            issued_at=float(claims["iat"]),
            thumbprint=thumbprint,
        )

    def expires_at(self, proof: VerifiedProof) -> float:
        """When the proof stops being acceptable anywhere: its jti must be remembered until then
        (plus the future leeway, for instances whose clocks run behind this one's)."""
        return proof.issued_at + self.max_age + self.iat_leeway

    def _get_header(self, proof: str) -> dict[str, Any]:
        header = _decode(proof, 0, "The DPoP proof's header is not a JSON object.")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
            raise ProofRejected(f"The DPoP proof's typ header is not {PROOF_TYPE}.")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise ProofRejected(
                "The DPoP proof's algorithm is not accepted; use one of "
                + ", ".join(self.algorithms)
                + "."
            )
        if "crit" in header or "b64" in header:
            raise ProofRejected("The DPoP proof uses critical header extensions.")
        if "jwk" not in header:
            raise ProofRejected("The DPoP proof has no jwk header.")
        return header

    def _check_claims(
        self, claims: Mapping[str, Any], *, method: str, url: str, access_token: str
    ) -> None:
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                raise ProofRejected(f"The DPoP proof has no {name} claim.")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise ProofRejected(
                f"The DPoP proof's jti claim is not a string of 1 to {MAX_JTI_LENGTH} characters."
            )
        if claims["htm"] != method:
            raise ProofRejected("The DPoP proof's htm claim does not match the request method.")
        htu = claims["htu"]
        expected = normalized_htu(url)
        if not isinstance(htu, str) or expected is None or normalized_htu(htu) != expected:
            raise ProofRejected("The DPoP proof's htu claim does not match the request URL.")
        self._check_issued_at(claims["iat"])
        ath = claims["ath"]
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath.encode("utf-8", "replace"), access_token_hash(access_token).encode("ascii")
        ):
            raise ProofRejected("The DPoP proof's ath claim does not match the access token.")
        if self.nonce_secret is not None and not self._is_current_nonce(claims.get("nonce")):
            reason = (
                "The DPoP proof has no nonce claim: sign the DPoP-Nonce of this answer into a new "
                "proof."
                if "nonce" not in claims
                else "The DPoP proof's nonce is not current: sign the DPoP-Nonce of this answer "
                "into a new proof."
            )
            raise NonceRequired(reason, self.current_nonce())

    def current_nonce(self) -> str:
        """The nonce of this time window, for the `DPoP-Nonce` header (nonces on only)."""
        return self._nonce(int(self.now() // self.nonce_lifetime))

    def _nonce(self, window: int) -> str:
        if self.nonce_secret is None:
            raise RuntimeError("DPoP server nonces are off: this verifier has no nonce_secret")
        mac = hmac.new(self.nonce_secret, f"dpop-nonce:{window}".encode(), hashlib.sha256)
        return f"{window}.{b64url(mac.digest()[:18])}"

    def _is_current_nonce(self, nonce: object) -> bool:
        """This window's nonce or the previous one's (a nonce lives one to two lifetimes)."""
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        window = int(self.now() // self.nonce_lifetime)
        return any(
            hmac.compare_digest(nonce.encode("utf-8", "replace"), self._nonce(w).encode())
            for w in (window, window - 1)
        )

    def _check_issued_at(self, iat: Any) -> None:
        if not is_numeric_date(iat):
            raise ProofRejected("The DPoP proof's iat claim is not a number of seconds.")
        now = self.now()
        if iat > now + self.iat_leeway:
            raise ProofRejected("The DPoP proof's iat claim is in the future.")
        if iat < now - self.max_age:
            raise ProofRejected(
                f"The DPoP proof is too old: its iat is more than {self.max_age:g} seconds ago."
            )


def check_proof_syntax(proof: str) -> None:
    """Exactly one compact JWS (three base64url segments, the last one empty for an unsecured
    JWS, which DPoPVerifier.verify refuses as a proof); raise MalformedProof otherwise."""
    if not proof:
        raise MalformedProof("The DPoP header is empty.")
    if "," in proof:
        raise MalformedProof("Send exactly one DPoP header holding one proof.")
    if proof.count(".") == 4:
        raise MalformedProof("The DPoP proof must be a signed JWT (JWS), not an encrypted one.")
    if not COMPACT_JWS.fullmatch(proof) and not UNSECURED_JWS.fullmatch(proof):
        raise MalformedProof(
            "The DPoP proof is not one JWT: expected three base64url segments separated by dots."
        )


def public_key_from_jwk(jwk: object, alg: str) -> tuple[PublicKeyFromParameters | None, str]:
    """The public key of a proof's `jwk` for `alg` and its RFC 7638 thumbprint; ProofRejected
    when it is not a public key that fits `alg`."""
    if not isinstance(jwk, dict):
        raise ProofRejected("The DPoP proof's jwk header is not a JSON object.")
    if PRIVATE_KEY_MEMBERS & jwk.keys():
        raise ProofRejected("The DPoP proof's jwk holds private key material.")
    key_type = KEY_TYPES_BY_ALGORITHM_PREFIX[alg[:2]]
    fits = jwk.get("kty") == key_type and (
        key_type != "EC" or jwk.get("crv") == CURVES_BY_ALGORITHM[alg]
    )
    if not fits or jwk.get("alg", alg) != alg:
        raise ProofRejected("The DPoP proof's jwk does not fit its algorithm.")
    members = THUMBPRINT_MEMBERS[key_type]
    if not all(isinstance(jwk.get(name), str) for name in members):
        raise ProofRejected("The DPoP proof's jwk is not a valid public key.")
    try:
        return _public_key(tuple(jwk[name] for name in members))
    except ValueError:
        raise ProofRejected("The DPoP proof's jwk is not a valid public key.") from None


@functools.lru_cache(maxsize=1024)
def _public_key(members: tuple[str, ...]) -> tuple[PublicKeyFromParameters | None, str]:
    """The key of the thumbprint members (in THUMBPRINT_MEMBERS order) and its thumbprint; a
    client signs many proofs with one key, so each key is built (its point validated) once."""
    names = THUMBPRINT_MEMBERS["EC" if len(members) == 4 else "RSA"]
    parameters = dict(zip(names, members, strict=True))
    for name in names:
        if name not in ("kty", "crv") and not _is_canonical_base64url(parameters[name]):
            raise ValueError(f"{name} is not canonical base64url")
    public_key = _key_from_parameters(parameters, parameters["kty"])
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_KEY_BITS:
        raise ValueError(f"RSA key shorter than {MIN_RSA_KEY_BITS} bits")
    return public_key, jwk_thumbprint(parameters)


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: what a DPoP-bound token carries as `cnf.jkt`."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(access_token: str) -> str:
    """The `ath` claim for `access_token`: base64url(SHA-256(ASCII of the token))."""
    return b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


@functools.lru_cache(maxsize=1024)  # the request URLs of an API, and each client's htu, repeat
def normalized_htu(url: str) -> str | None:
    """An http(s) URL in RFC 3986 normal form, without query and fragment; None if it is not one.

    Scheme and host are lower-cased, the default port dropped, percent-escapes upper-cased (and
    decoded where they stand for unreserved characters), dot segments removed and an empty path
    made "/". User information is not allowed (`https://api.example.com@evil.test/`).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = UNRESERVED_ESCAPE.sub(_normalized_escape, quote(parts.path, safe=PATH_SAFE))
    return f"{scheme}://{netloc}{_remove_dot_segments(path) or '/'}"


def _normalized_escape(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    if character.isascii() and (character.isalnum() or character in "-._~"):
        return character
    return "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for an absolute path."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output) if output else ("/" if path else "")


def _is_canonical_base64url(value: str) -> bool:
    """Unpadded base64url whose unused bits are zero: one string per value, so one thumbprint."""
    if not BASE64URL.fullmatch(value):
        return False
    try:
        return b64url(b64url_decode(value)) == value
    except ValueError:
        return False


def _decode(proof: str, index: int, reason: str) -> dict[str, Any]:
    try:
        return json_segment(proof, index)
    except MalformedSegment:
        raise ProofRejected(reason) from None
