"""Just-in-time users: the first valid token of a new `sub` creates its Django user.

`DatabaseUserLoader` is the request authenticator's user loader (authenticator.py) for Django's
user model: the token's user, created on first sight; a disabled user is refused, and a database
that does not answer is a 503.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, transaction

from auth0_jwt.authenticator import UserRejected, UserUnavailable
from auth0_jwt.models import Auth0Identity
from auth0_jwt.user_lookup import find_user_for_subject
from auth0_jwt.verifier import VerifiedToken

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

# Its lines are the authentication layer's: the name operators route them by, kept.
logger = logging.getLogger("auth0_jwt.authentication")

MAX_SUBJECT_LENGTH = 255
CREATE_ATTEMPTS = 3


def username_for_subject(sub: str) -> str:
    """The tutorial's mapping: `auth0|abc` -> `auth0.abc`."""
    return sub.replace("|", ".")


def _free_username(sub: str) -> str:
    """The tutorial's username if it fits and is free, else a readable one with a hash suffix."""
    User = get_user_model()
    field = User._meta.get_field(User.USERNAME_FIELD)
    # A username field without a limit (a TextField) takes any length.
    max_length: int = getattr(field, "max_length", None) or sys.maxsize
    candidate = username_for_subject(sub)
    if (
        len(candidate) <= max_length
        and not User.objects.filter(**{User.USERNAME_FIELD: candidate}).exists()
    ):
        return candidate
    suffix = "-" + hashlib.sha256(sub.encode()).hexdigest()[:16]
    return candidate[: max_length - len(suffix)] + suffix


def get_or_create_user_for_subject(sub: str) -> AbstractBaseUser:
    """The user of `sub`, created on first sight; safe when several first requests race."""
    if len(sub) > MAX_SUBJECT_LENGTH:
        raise ValueError(f"sub is longer than {MAX_SUBJECT_LENGTH} characters")
    User = get_user_model()
    for _attempt in range(CREATE_ATTEMPTS):
        user = find_user_for_subject(sub)  # the common case: one precompiled query
        if user is not None:
            return user
        try:
            with transaction.atomic():
                user = User(**{User.USERNAME_FIELD: _free_username(sub)})
                user.set_unusable_password()
                user.save()
                Auth0Identity.objects.create(sub=sub, user=user)
                return user
        except IntegrityError:
            # A concurrent request won: it created this subject's user (the next read finds it),
            # or took the username another subject maps to (the next try picks a suffixed one).
            # The atomic block rolled back, so the connection is usable (PostgreSQL too).
            continue
    return Auth0Identity.objects.select_related("user").get(sub=sub).user


class DatabaseUserLoader:
    """The Django user of a token's `sub`, created just in time; refused when disabled."""

    def load(self, token: VerifiedToken) -> AbstractBaseUser:
        if len(token.subject) > MAX_SUBJECT_LENGTH:
            raise UserRejected(
                f"The token's sub claim is longer than {MAX_SUBJECT_LENGTH} characters."
            )
        try:
            user = get_or_create_user_for_subject(token.subject)
        except DatabaseError as exc:
            logger.error("Token accepted but the user could not be loaded: %s", type(exc).__name__)
            raise UserUnavailable() from None
        if not user.is_active:
            raise UserRejected("The user account of this token is disabled.")
        return user

    async def aload(self, token: VerifiedToken) -> AbstractBaseUser:
        """`load` in Django's thread for database work: the event loop never waits on it, and
        the user comes back loaded (no lazy object)."""
        return await sync_to_async(self.load)(token)
