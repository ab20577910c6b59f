"""`python manage.py inspect_token TOKEN`: why would this service accept or reject a token?"""

import sys
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser

from auth0_jwt.conf import get_auth0_settings
from auth0_jwt.inspection import inspect_token, strip_scheme
from auth0_jwt.management.commands._base import TokenCommand
from auth0_jwt.organizations import OrganizationPolicy
from auth0_jwt.runtime import build_token_verifier
from auth0_jwt.verifier import TokenRejected


class Command(TokenCommand):
    help = (
        "Decode a token's header and claims (without trusting them), compare them with this "
        "service's configuration, then run the real verification. Exit status 0 when the token "
        "would be accepted, 1 otherwise."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("token", help='the access token, or "-" to read it from stdin')

    def handle(self, *args: Any, **options: Any) -> None:
        from_stdin = options["token"] == "-"  # noqa: S105 - "-" is the stdin marker
        raw = sys.stdin.read() if from_stdin else options["token"]
        token = strip_scheme(raw)
        try:
            verifier = build_token_verifier()
            config = get_auth0_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        try:
            report = inspect_token(
                token,
                verifier=verifier,
                dpop_mode=config.dpop_mode,
                organizations=OrganizationPolicy(config.organizations),
            )
        except TokenRejected as exc:
            raise CommandError(exc.reason) from None
        self.stdout.write("\n".join(report.lines))
        if not report.accepted:
            sys.exit(1)
