"""Links an Auth0 subject (`sub`) to the Django user created for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Auth0Identity(models.Model):
    """One Auth0 subject, one Django user: the exact `sub` is kept so subjects never share a user.

    The username is derived from `sub` as the tutorial did (`auth0|abc` -> `auth0.abc`), but that
    mapping is not one-to-one (`a|b.c` and `a.b|c` meet), so lookups go through this table.
    """

    sub = models.CharField(max_length=255, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth0_identity"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Auth0 identity"
        verbose_name_plural = "Auth0 identities"

    def __str__(self) -> str:
        return self.sub


class UsedDPoPProofManager(models.Manager["UsedDPoPProof"]):
    """Proofs only: the replay store's markers (keys starting with "~", which no proof's hash
    has; see replay.py) share the table but are not proofs."""

    def get_queryset(self) -> models.QuerySet[UsedDPoPProof]:
        return super().get_queryset().exclude(key__startswith="~")


class UsedDPoPProof(models.Model):
    """A DPoP proof already accepted: its key (a hash of the client key's thumbprint and the proof's
    `jti`) is kept until the proof is too old to be accepted anywhere, so a replay is refused
    whichever worker or instance it reaches. The primary key makes remembering it atomic.

    The table also holds the replay store's epoch marker (key "~epoch", its `expires_at` holding
    the time before which proofs are refused): whatever empties the table empties the marker too,
    which is how the store notices that it forgot proofs (replay.py)."""

    key = models.CharField(max_length=64, primary_key=True)
    expires_at = models.FloatField(db_index=True)  # seconds since the epoch

    objects = UsedDPoPProofManager()

    class Meta:
        verbose_name = "used DPoP proof"

    def __str__(self) -> str:
        return self.key


class PersistedKeySet(models.Model):
    """The last JWKS fetched from one URL (public keys only), so that it outlives the process that
    fetched it: a worker that starts while the identity provider is unreachable begins from it
    (keyset_store.py). `signature` is an HMAC keyed from SECRET_KEY, so that a row written by
    anything but this service is not used."""

    jwks_url_hash = models.CharField(max_length=64, primary_key=True)  # SHA-256 of jwks_url
    jwks_url = models.TextField()
    document = models.TextField()  # the JWKS as JSON
    fetched_at = models.FloatField()  # seconds since the epoch
    signature = models.CharField(max_length=64)

    class Meta:
        verbose_name = "persisted key set"

    def __str__(self) -> str:
        return self.jwks_url
