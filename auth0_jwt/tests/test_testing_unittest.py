"""The test issuer with unittest and Django's `TestCase`: a class decorator (enabled for each
test), a method decorator, and `setUpClass` (enabled for the class), beside `override_settings`."""

from django.conf import settings
from django.test import SimpleTestCase, TestCase, override_settings
from rest_framework.test import APIClient

from auth0_jwt.runtime import get_token_verifier
from auth0_jwt.testing import DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_SUBJECT, Auth0TestIssuer

PRIVATE = "/api/private/"
SCOPED = "/api/private-scoped/"
NEEDS_SCOPE = "The access token lacks the scope this endpoint needs: read:messages."


@Auth0TestIssuer()
class DecoratedClassTests(TestCase):
    """Each test runs with the issuer enabled, as `self.auth0_issuer`; a token cached in one test
    is not in the next one's cache."""

    seen_caches: list = []

    def test_a_token_with_the_scope_is_accepted(self):
        client = self.auth0_issuer.api_client(scopes=["read:messages"])
        response = client.get(SCOPED)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["sub"], DEFAULT_SUBJECT)
        self.check_cache_is_new(client.auth0.token)

    def test_a_token_without_the_scope_gets_403(self):
        response = self.auth0_issuer.client().get(SCOPED)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json(), {"detail": NEEDS_SCOPE})
        self.assertEqual(
            response["WWW-Authenticate"],
            'Bearer realm="api", error="insufficient_scope", scope="read:messages"',
        )
        self.check_cache_is_new(None)

    def check_cache_is_new(self, token):
        cache = get_token_verifier().token_cache
        for earlier in self.seen_caches:
            self.assertIsNot(cache, earlier)
        self.seen_caches.append(cache)


@override_settings(AUTH0={**settings.AUTH0, "DPOP": "off"})
@Auth0TestIssuer()
class DecoratedBesideOverrideSettingsTests(TestCase):
    def test_the_class_override_stays_and_the_issuer_is_named(self):
        self.assertEqual(settings.AUTH0["DPOP"], "off")
        self.assertEqual(settings.AUTH0["ISSUER"], DEFAULT_ISSUER)
        self.assertEqual(settings.AUTH0["AUDIENCE"], DEFAULT_AUDIENCE)
        response = self.auth0_issuer.api_client().get(PRIVATE)
        self.assertEqual(response.status_code, 200)
        # DPoP off: the no-credentials challenge names Bearer only.
        self.assertEqual(APIClient().get(PRIVATE)["WWW-Authenticate"], 'Bearer realm="api"')

    @override_settings(AUTH0={**settings.AUTH0, "DPOP": "required"})
    def test_a_method_override_inside_the_issuer_keeps_its_keys(self):
        response = self.auth0_issuer.api_client().get(PRIVATE)
        self.assertEqual(response.status_code, 401)
        self.assertEqual(get_token_verifier().key_store.description, "in-process JWKS")


issuer = Auth0TestIssuer(audience="https://api.decorated-method.test/")


class DecoratedMethodTests(TestCase):
    @issuer
    def test_the_method_runs_with_the_issuer(self):
        self.assertTrue(issuer.enabled)
        self.assertEqual(settings.AUTH0["AUDIENCE"], "https://api.decorated-method.test/")
        response = APIClient().get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {issuer.token()}")
        self.assertEqual(response.status_code, 200)

    def test_outside_the_method_it_is_off(self):
        self.assertFalse(issuer.enabled)
        self.assertNotEqual(settings.AUTH0["AUDIENCE"], "https://api.decorated-method.test/")


class SetUpClassTests(TestCase):
    """`setUpClass` enables it for the whole class (and the class cleanup disables it); minting
    needs no enabling, so `setUpTestData` (run inside `super().setUpClass()`) mints already."""

    issuer = Auth0TestIssuer()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.enterClassContext(cls.issuer)

    @classmethod
    def setUpTestData(cls):
        cls.token = cls.issuer.token(sub="auth0|class-wide", scopes=["read:messages"])

    def test_the_class_token_is_accepted(self):
        response = APIClient().get(SCOPED, HTTP_AUTHORIZATION=f"Bearer {self.token}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["sub"], "auth0|class-wide")

    def test_with_the_issuer_as_context_manager_too(self):
        with self.issuer.keys_unavailable():
            response = APIClient().get(SCOPED, HTTP_AUTHORIZATION=f"Bearer {self.issuer.token()}")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response["Retry-After"], "5")


class ContextManagerTests(SimpleTestCase):
    def test_the_settled_form(self):
        before = dict(settings.AUTH0)
        with Auth0TestIssuer() as issuer:
            token = issuer.token(scopes=["read:messages"])
            self.assertEqual(settings.AUTH0["ISSUER"], DEFAULT_ISSUER)
        self.assertEqual(dict(settings.AUTH0), before)
        self.assertIsInstance(token, str)
