"""Links an Auth0 subject (`sub`) to the Django user created for it."""

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

    def __str__(self):
        return self.sub


class UsedDPoPProof(models.Model):
    """A DPoP proof already accepted: its key (a hash of the client key's thumbprint and the proof's
    `jti`) is kept until the proof is too old to be accepted anywhere, so a replay is refused
    whichever worker or instance it reaches. The primary key makes remembering it atomic."""

    key = models.CharField(max_length=64, primary_key=True)
    expires_at = models.FloatField(db_index=True)  # seconds since the epoch

    class Meta:
        verbose_name = "used DPoP proof"

    def __str__(self):
        return self.key
