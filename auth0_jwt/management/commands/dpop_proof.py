"""`python manage.py dpop_proof`: print a DPoP proof (RFC 9449) for one request, signed with the
development client's key (the one `mint_token --dpop-key` bound the token to)."""

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from auth0_jwt.dpop import normalized_htu
from auth0_jwt.jws import COMPACT_JWS
from auth0_jwt.local_issuer import LocalIssuerError, create_dpop_proof, load_or_create_dpop_key
from auth0_jwt.management.commands._base import TokenCommand


class Command(TokenCommand):
    help = (
        "Print a DPoP proof for one request, e.g. "
        'curl -H "Authorization: DPoP $TOKEN" -H "DPoP: $(python manage.py dpop_proof --key '
        ".local-issuer/dpop-key.pem --method GET --url http://127.0.0.1:8000/api/private/ "
        '--token $TOKEN)" http://127.0.0.1:8000/api/private/'
    )
    # A client-side tool: it needs neither the service's settings nor its checks.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--key",
            required=True,
            metavar="PATH",
            help="the EC P-256 private key (PEM); created (mode 0600) when PATH does not exist",
        )
        parser.add_argument("--method", default="GET", help="HTTP method (default: %(default)s)")
        parser.add_argument("--url", required=True, help="the request URL, as the server sees it")
        parser.add_argument("--token", help="the access token (adds the ath claim)")

    def handle(self, *args: Any, **options: Any) -> None:
        method, url, token = options["method"], options["url"], options["token"]
        if not method or not method.isalpha() or not method.isupper():
            raise CommandError(f"--method must be an HTTP method such as GET, got {method!r}.")
        if normalized_htu(url) is None:
            raise CommandError(f"--url must be an http(s) URL, got {url!r}.")
        if token is not None:
            token = token.strip().removeprefix("DPoP ").removeprefix("Bearer ").strip()
            if not COMPACT_JWS.fullmatch(token):
                raise CommandError("--token is not a JWT (three base64url segments).")
        try:
            key = load_or_create_dpop_key(Path(options["key"]))
        except LocalIssuerError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(create_dpop_proof(key, method=method, url=url, access_token=token))
