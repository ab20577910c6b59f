"""/metrics and the HTTP request metrics, in this process: who may read them (loopback by default,
CIDRs, the client behind a trusted proxy), the 404 everyone else gets, and what each request adds.

test_metrics_serving.py runs the same under gunicorn with two workers.
"""

import pytest
from prometheus_client import REGISTRY

from auth0_django_example.metrics import client_address
from auth0_django_example.tests.support import clean_environment, manage

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"


def sample(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def not_found(client):
    return client.get("/no-such-page")


# --- Who may read /metrics ------------------------------------------------------------------------


def test_metrics_answer_loopback_in_the_prometheus_text_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == PROMETHEUS_TEXT
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert "# TYPE auth0_jwt_tokens_total counter" in text
    assert (
        'auth0_jwt_tokens_total{issuer="https://tenant.example.test/",outcome="accepted",reason="none"}'
        in text
    )
    assert "# TYPE auth0_jwt_jwks_fetches_total counter" in text
    assert "# TYPE http_requests_total counter" in text


def test_metrics_are_openmetrics_when_the_scraper_asks_for_it(client):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"] == OPENMETRICS
    assert response.content.endswith(b"# EOF\n")


def test_metrics_answer_ipv6_loopback_and_its_ipv4_mapped_form(client):
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


def test_other_clients_get_the_same_404_as_an_unknown_path(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    expected = not_found(client)
    assert (response.status_code, response.content) == (404, expected.content)
    assert b"auth0_jwt" not in response.content


def test_allowed_networks_are_cidrs(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="11.0.0.1").status_code == 404


def test_a_client_relayed_by_a_proxy_on_loopback_is_not_loopback(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 404


def test_the_client_behind_a_trusted_proxy_is_the_nearest_untrusted_hop(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.FORWARDED_ALLOW_IPS = ["192.0.2.1"]
    relayed = {"REMOTE_ADDR": "192.0.2.1"}
    # What the client wrote itself (the left part) does not count: the proxy appended the right.
    allowed = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.5", **relayed)
    assert allowed.status_code == 200
    spoofed = client.get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.5, 203.0.113.9", **relayed)
    assert spoofed.status_code == 404


def test_a_direct_client_cannot_claim_an_address_with_x_forwarded_for(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.5")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        ("127.0.0.1", "", ("127.0.0.1", "::1"), "127.0.0.1"),
        ("127.0.0.1", "198.51.100.7", ("127.0.0.1", "::1"), "198.51.100.7"),
        # Two proxies in a row, both trusted: the hop before them.
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", ("10.0.0.0/24",), "198.51.100.7"),
        # Only trusted hops: the farthest proxy made the request itself.
        ("10.0.0.2", "10.0.0.3", ("10.0.0.0/24",), "10.0.0.3"),
        # gunicorn's "*": every peer is a proxy, but only the nearest hop is believed.
        ("203.0.113.9", "127.0.0.1, 198.51.100.7", ("*",), "198.51.100.7"),
        ("127.0.0.1", "not-an-address", ("127.0.0.1",), None),
        ("127.0.0.1", "198.51.100.7:443", ("127.0.0.1",), None),
        ("", "", ("127.0.0.1",), None),
    ],
)
def test_client_address(peer, forwarded_for, trusted, client):
    found = client_address(peer, forwarded_for, trusted_proxies=trusted)
    assert (str(found) if found is not None else None) == client


def test_post_to_metrics_is_405_for_an_allowed_client(client):
    response = client.post("/metrics")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_metrics_are_answered_before_host_validation(client, settings):
    settings.ALLOWED_HOSTS = ["api.example.test"]
    assert client.get("/metrics", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/api/public/", HTTP_HOST="10.0.0.5:8000").status_code == 400


def test_metrics_disabled_is_a_404_and_no_middleware():
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "print(any('metrics' in m for m in settings.MIDDLEWARE))\n"
        "print(Client().get('/metrics', HTTP_HOST='localhost').status_code)\n"
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        script,
        env=clean_environment(DJANGO_DEBUG="1", METRICS_ENABLED="0"),
    )
    assert (result.returncode, result.stdout) == (0, "False\n404\n"), result.stderr


def test_a_malformed_allowed_network_is_one_line():
    result = manage(
        "check",
        env=clean_environment(DJANGO_DEBUG="1", METRICS_ALLOWED_IPS="127.0.0.1,10.0.0.0/33"),
    )
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert error_lines == [
        "?: (auth0_django_example.E003) METRICS_ALLOWED_IPS must list IP addresses or networks "
        "such as 10.0.0.0/8, got '10.0.0.0/33'."
    ]


# --- What each request adds -----------------------------------------------------------------------


def test_each_request_is_counted_by_view_method_and_status(client):
    labels = {"view": "public", "method": "GET"}
    before = sample("http_requests_total", status="200", **labels)
    count_before = sample("http_request_duration_seconds_count", **labels)
    assert client.get("/api/public/").status_code == 200
    assert sample("http_requests_total", status="200", **labels) == before + 1
    assert sample("http_request_duration_seconds_count", **labels) == count_before + 1


@pytest.mark.parametrize(
    ("path", "method", "view", "method_label", "status"),
    [
        ("/no-such-page", "get", "unmatched", "GET", "404"),
        ("/healthz", "get", "healthz", "GET", "200"),
        ("/api/private/", "get", "private", "GET", "401"),
        ("/api/public/", "generic", "public", "other", "405"),
    ],
)
def test_requests_no_view_answered_and_odd_methods_have_fixed_labels(
    client, path, method, view, method_label, status
):
    labels = {"view": view, "method": method_label, "status": status}
    before = sample("http_requests_total", **labels)
    if method == "generic":
        response = client.generic("BREW", path)
    else:
        response = getattr(client, method)(path)
    assert str(response.status_code) == status
    assert sample("http_requests_total", **labels) == before + 1
