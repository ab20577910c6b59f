"""`python manage.py mint_token`: print an access token from the local development issuer."""

import json
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser

from auth0_jwt.conf import Auth0Settings, get_auth0_settings
from auth0_jwt.domains import issuer_for_domain, parse_domain
from auth0_jwt.local_issuer import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_SUBJECT,
    LocalIssuer,
    LocalIssuerError,
    load_or_create_dpop_key,
)
from auth0_jwt.management.commands._base import TokenCommand

CLAIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")


def parse_claim(text: str) -> tuple[str, object]:
    """`NAME=VALUE`, the value read as JSON when it is JSON (`tier=3`, `flags=[1,2]`), else text."""
    name, separator, value = text.partition("=")
    if not separator or not CLAIM_NAME.fullmatch(name):
        raise CommandError(f"--claim expects NAME=VALUE, got {text!r}.")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


class Command(TokenCommand):
    help = (
        "Print an access token signed by the local development issuer, e.g. "
        'curl -H "Authorization: Bearer $(python manage.py mint_token --scope read:messages)" '
        "http://127.0.0.1:8000/api/private-scoped/"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sub", default=DEFAULT_SUBJECT, help="subject (default: %(default)s)")
        parser.add_argument("--scope", help='space-separated scopes, e.g. "read:messages"')
        parser.add_argument(
            "--permissions", help="RBAC permissions, space- or comma-separated (Auth0 RBAC)"
        )
        parser.add_argument(
            "--expires-in",
            type=int,
            default=DEFAULT_EXPIRES_IN,
            help="lifetime in seconds; negative mints an expired token (default: %(default)s)",
        )
        parser.add_argument("--audience", help="audience (default: the configured one)")
        parser.add_argument(
            "--claim",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="extra claim, repeatable; VALUE is JSON when it parses as JSON",
        )
        parser.add_argument(
            "--dpop-key",
            metavar="PATH",
            help="bind the token to the EC P-256 key at PATH (cnf.jkt, DPoP); the key is created "
            "(mode 0600) when PATH does not exist. Send it with manage.py dpop_proof.",
        )
        parser.add_argument(
            "--org-id",
            metavar="ORG_ID",
            help="an Auth0 Organization's id, e.g. org_W9bWaGIoMAIEpHLV (the org_id claim)",
        )
        parser.add_argument(
            "--org-name",
            metavar="NAME",
            help="the organization's name (the org_name claim; Auth0 sends it in lower case); "
            "needs --org-id",
        )
        parser.add_argument(
            "--issuer-domain",
            metavar="DOMAIN",
            help="mint for another of the tenant's domains: iss https://DOMAIN/ (default: the "
            "configured issuer, the first of AUTH0_DOMAINS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = get_auth0_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if not config.local_issuer:
            raise CommandError(
                f"This service trusts the Auth0 issuer {config.issuer}, so it would reject a "
                "locally minted token: take a test token from your API's Test tab in the Auth0 "
                "dashboard instead."
            )
        if not options["sub"].strip():
            raise CommandError("--sub must not be empty.")
        extra_claims = dict(parse_claim(text) for text in options["claim"])
        org_id, org_name = options["org_id"], options["org_name"]
        if org_id is not None and not org_id.strip():
            raise CommandError("--org-id must not be empty.")
        if org_name is not None and (org_id is None or not org_name.strip()):
            raise CommandError(
                "--org-name needs a non-empty name and --org-id (Auth0 sends org_name beside "
                "org_id)."
            )
        issuer = self._issuer(config, options["issuer_domain"])
        permissions = None
        if options["permissions"] is not None:
            permissions = options["permissions"].replace(",", " ").split()
        try:
            dpop_key = load_or_create_dpop_key(options["dpop_key"]) if options["dpop_key"] else None
            token = LocalIssuer.from_settings(config).mint(
                sub=options["sub"],
                scope=options["scope"],
                permissions=permissions,
                expires_in=options["expires_in"],
                audience=options["audience"],
                extra_claims=extra_claims,
                dpop_key=dpop_key,
                issuer=issuer,
                org_id=org_id,
                org_name=org_name,
            )
        except LocalIssuerError as exc:
            raise CommandError(str(exc)) from None
        except TypeError as exc:
            raise CommandError(f"A claim value cannot be put in a token: {exc}.") from None
        self.stdout.write(token)

    def _issuer(self, config: Auth0Settings, domain: str | None) -> str | None:
        """The issuer of `--issuer-domain` (None: the configured one); a note on stderr when this
        service does not accept it (a token to see refused)."""
        if domain is None:
            return None
        try:
            issuer = issuer_for_domain(parse_domain(domain))
        except ValueError:
            raise CommandError(
                f'--issuer-domain must be a host name such as "login.example.com", got {domain!r}.'
            ) from None
        if issuer not in config.issuers:
            self.stderr.write(
                f"Note: {issuer} is not one of this service's issuers "
                f"({', '.join(config.issuers)}), so it will refuse this token."
            )
        return issuer
