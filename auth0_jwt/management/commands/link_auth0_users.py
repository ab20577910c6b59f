"""`manage.py link_auth0_users SUB [SUB ...]`: link existing Django users to their Auth0 subjects.

Projects that followed the tutorial created a Django user per Auth0 user by hand, named by the
tutorial's rule (`auth0|abc` -> `auth0.abc`). `auth0_jwt` finds a subject's user through its
`Auth0Identity` table only (the rule is not one-to-one), so those users' first token would get a
new user instead of theirs. This command links each given subject to the user the rule names,
once, before the switch. The subjects come from the tenant (the `user_id` column of an Auth0 user
export), never from a guess based on usernames.
"""

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.db import IntegrityError, transaction

from auth0_jwt.management.commands._base import TokenCommand
from auth0_jwt.models import Auth0Identity
from auth0_jwt.users import MAX_SUBJECT_LENGTH, username_for_subject


class Command(TokenCommand):
    help = (
        "Link existing Django users to their Auth0 subjects: each SUB (an Auth0 user id such as "
        "auth0|abc, from your tenant) to the user named by the tutorial's rule (auth0.abc). "
        "Exit status 1 if a subject could not be linked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "subjects", nargs="+", metavar="SUB", help="Auth0 user ids; - reads them from stdin"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be linked, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        subjects: list[str] = []
        for argument in options["subjects"]:
            if argument == "-":
                subjects.extend(line.strip() for line in sys.stdin if line.strip())
            else:
                subjects.append(argument)
        refused = 0
        for sub in subjects:
            outcome, ok = self._link(sub, dry_run=options["dry_run"])
            shown = sub if _printable(sub) else repr(sub)  # no control characters on a terminal
            self.stdout.write(f"{shown}: {outcome}")
            refused += not ok
        if refused:
            raise CommandError(f"{refused} of {len(subjects)} subject(s) not linked.", returncode=1)

    def _link(self, sub: str, *, dry_run: bool) -> tuple[str, bool]:
        """What happened to `sub`, and whether that is a success."""
        if not sub or len(sub) > MAX_SUBJECT_LENGTH or not _printable(sub):
            return (
                f"refused: not an Auth0 user id (1 to {MAX_SUBJECT_LENGTH} printable characters)",
                False,
            )
        identity = Auth0Identity.objects.select_related("user").filter(sub=sub).first()
        if identity is not None:
            return f"already linked to user {identity.user.get_username()}", True
        User = get_user_model()
        username = username_for_subject(sub)
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            return f"no user named {username}: nothing to link (its first token creates one)", True
        other = Auth0Identity.objects.filter(user=user).first()
        if other is not None:
            return f"refused: user {username} is linked to another subject, {other.sub}", False
        if dry_run:
            return f"would be linked to user {username}", True
        try:
            with transaction.atomic():
                Auth0Identity.objects.create(sub=sub, user=user)
        except IntegrityError:  # a first token of `sub` (or another link) won the race
            return "refused: linked meanwhile by another process; run the command again", False
        return f"linked to user {username}", True


def _printable(text: str) -> bool:
    return text.isprintable() and text == text.strip()
