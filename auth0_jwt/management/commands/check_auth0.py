"""`python manage.py check_auth0`: fetch the configured JWKS once and say whether it is usable."""

import time

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from auth0_jwt.conf import get_auth0_settings
from auth0_jwt.keystore import HTTPJWKSSource, JWKSError, parse_jwks
from auth0_jwt.local_issuer import LocalIssuer
from auth0_jwt.management.commands._base import TokenCommand


class Command(TokenCommand):
    help = (
        "Fetch the configured JWKS once and print the issuer, the JWKS URL, the key ids and "
        "algorithms and the time it took. Exit status 0 when the configuration is usable."
    )
    requires_system_checks = []

    def handle(self, *args, **options):
        try:
            config = get_auth0_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if config.local_issuer:
            source, where = LocalIssuer.from_settings(config).jwks, "local development issuer"
        else:
            source, where = HTTPJWKSSource(config.jwks_url, timeout=config.jwks_timeout), None
        self.stdout.write(f"Issuer:    {config.issuer}")
        self.stdout.write(f"Audience:  {config.audience}")
        self.stdout.write(f"JWKS:      {where or config.jwks_url}")
        started = time.monotonic()
        try:
            keys, skipped = parse_jwks(source(), algorithms=config.algorithms)
        except JWKSError as exc:
            elapsed = (time.monotonic() - started) * 1000
            raise CommandError(f"JWKS unusable after {elapsed:.0f} ms: {exc}.") from None
        elapsed = (time.monotonic() - started) * 1000
        self.stdout.write(f"Fetched:   {len(keys)} key(s) in {elapsed:.0f} ms")
        for key in keys.values():
            size = getattr(key.public_key, "key_size", None)
            detail = f"{key.key_type} {size} bits" if size else key.key_type
            self.stdout.write(f"  kid={key.kid} alg={key.algorithm or '(any accepted)'} {detail}")
        for reason in skipped:
            self.stdout.write(f"  skipped {reason}")
        self.stdout.write(self.style.SUCCESS("OK: tokens signed by these keys can be verified."))
