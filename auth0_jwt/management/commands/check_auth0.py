"""`python manage.py check_auth0`: fetch each configured issuer's JWKS once and say whether it is
usable (with several domains, one block per domain)."""

import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils.module_loading import import_string

from auth0_jwt.conf import Auth0Settings, get_auth0_settings, setting_name
from auth0_jwt.domains import jwks_url_for_issuer
from auth0_jwt.issuers import DiscoveredJWKSSource, resolve_issuers
from auth0_jwt.keystore import HTTPJWKSSource, JWKSError, parse_jwks
from auth0_jwt.local_issuer import LocalIssuer
from auth0_jwt.management.commands._base import TokenCommand
from auth0_jwt.organizations import OrganizationPolicy


class Command(TokenCommand):
    help = (
        "Fetch each configured issuer's JWKS once and print the issuer, the JWKS URL, the key ids "
        "and algorithms and the time it took. Exit status 0 when every issuer is usable."
    )
    requires_system_checks = []

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = get_auth0_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if not config.multiple_issuers:
            self.stdout.write(f"Issuer:    {config.issuer}")
            self.stdout.write(f"Audience:  {config.audience}")
            self._write_organizations(config)
            self._check(config, config.issuer, config.jwks_url)
            self.stdout.write(
                self.style.SUCCESS("OK: tokens signed by these keys can be verified.")
            )
            return
        self.stdout.write(f"Audience:  {config.audience}")
        issuers = self._issuers(config)
        self._write_organizations(config)
        failed = []
        for issuer in issuers:
            self.stdout.write("")
            self.stdout.write(f"Issuer:    {issuer}")
            try:
                self._check(config, issuer, jwks_url_for_issuer(issuer))
            except CommandError as exc:
                failed.append(issuer)
                self.stdout.write(self.style.ERROR(f"FAILED: {exc}"))
            else:
                self.stdout.write(self.style.SUCCESS("OK"))
        self.stdout.write("")
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(issuers)} issuers cannot be verified: {', '.join(failed)}."
            )
        self.stdout.write(
            self.style.SUCCESS(f"OK: tokens of each of the {len(issuers)} issuers can be verified.")
        )

    def _issuers(self, config: Auth0Settings) -> list[str]:
        """The configured issuers, or the ones the domains resolver returns now."""
        if not config.domains_resolver:
            self.stdout.write(f"Domains:   {len(config.issuers)} ({setting_name('DOMAINS')})")
            return list(config.issuers)
        try:
            issuers = resolve_issuers(import_string(config.domains_resolver))
        except (ValueError, ImportError) as exc:
            raise CommandError(f"The domains resolver failed: {exc}.") from None
        self.stdout.write(f"Domains:   {len(issuers)} (resolved by {config.domains_resolver})")
        return issuers

    def _write_organizations(self, config: Auth0Settings) -> None:
        if config.organizations is not None:
            policy = OrganizationPolicy(config.organizations)
            self.stdout.write(f"Organizations: {policy.describe()}")

    def _check(self, config: Auth0Settings, issuer: str, jwks_url: str) -> None:
        """Fetch `issuer`'s key set and list its keys; CommandError saying why it is unusable."""
        started = time.monotonic()
        try:
            if config.local_issuer:
                self.stdout.write("JWKS:      local development issuer")
                document = LocalIssuer.from_settings(config).jwks()
            else:
                if config.discovery:
                    discovery = DiscoveredJWKSSource(issuer, timeout=config.jwks_timeout)
                    self.stdout.write(f"Discovery: {discovery.url}")
                    jwks_url = discovery.discover()
                self.stdout.write(f"JWKS:      {jwks_url}")
                document = HTTPJWKSSource(jwks_url, timeout=config.jwks_timeout)()
            keys, skipped = parse_jwks(document, algorithms=config.algorithms)
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
