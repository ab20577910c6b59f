"""Just-in-time users: the first valid token of a new `sub` creates its Django user."""

import hashlib

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from auth0_jwt.models import Auth0Identity
from auth0_jwt.user_lookup import find_user_for_subject

MAX_SUBJECT_LENGTH = 255
CREATE_ATTEMPTS = 3


def username_for_subject(sub: str) -> str:
    """The tutorial's mapping: `auth0|abc` -> `auth0.abc`."""
    return sub.replace("|", ".")


def _free_username(sub: str) -> str:
    """The tutorial's username if it fits and is free, else a readable one with a hash suffix."""
    User = get_user_model()
    max_length = User._meta.get_field(User.USERNAME_FIELD).max_length
    candidate = username_for_subject(sub)
    if (
        len(candidate) <= max_length
        and not User.objects.filter(**{User.USERNAME_FIELD: candidate}).exists()
    ):
        return candidate
    suffix = "-" + hashlib.sha256(sub.encode()).hexdigest()[:16]
    return candidate[: max_length - len(suffix)] + suffix


def get_or_create_user_for_subject(sub: str):
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
