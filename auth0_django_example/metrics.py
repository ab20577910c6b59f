"""Prometheus metrics: HTTP requests by view, method and status, and the `/metrics` endpoint.

`MetricsMiddleware` comes first in MIDDLEWARE (settings.py adds it unless METRICS_ENABLED=0):
- it counts every request and observes its latency, labelled with the URL pattern's view name (or
  a fixed word for requests no view answered), so the number of series stays bounded;
- it answers `GET /metrics` itself, before host validation and the HTTPS redirect (as the health
  endpoints), so Prometheus can scrape each instance by address over plain HTTP; but only for
  clients in METRICS_ALLOWED_IPS. Any other client gets the same 404 as an unknown path.

The client is the peer address, unless that peer is one of the proxies gunicorn trusts
(FORWARDED_ALLOW_IPS): then it is the nearest `X-Forwarded-For` hop that is not such a proxy. So a
request relayed by a proxy on loopback counts as the proxy's client, not as loopback.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py) holds every worker's values and
`/metrics` adds them up; without it (runserver, tests) the process's own values are served.
"""

import functools
import ipaddress
import os
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

METRICS_PATH = "/metrics"
# Requests answered before URL resolution get a fixed view label of their own.
MIDDLEWARE_VIEWS = {"/healthz": "healthz", "/readyz": "readyz", METRICS_PATH: "metrics"}
UNMATCHED_VIEW = "unmatched"  # no URL pattern: a 404, a static file, a refused host, a redirect
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"))

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by view (URL pattern name), method and status code.",
    ("view", "method", "status"),
)
HTTP_REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, by view and method.",
    ("view", "method"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class MetricsMiddleware:
    """Counts and times every request; answers /metrics to the allowed clients."""

    def __init__(self, get_response):
        self.get_response = get_response
        # (view, method, status) -> the counter child and the histogram child; bounded like the
        # labels, and cheaper than labels() (a lock and a tuple per call) on every request.
        self._children: dict[tuple[str, str, int], tuple] = {}

    def __call__(self, request):
        started = time.perf_counter()
        if request.path_info == METRICS_PATH and client_is_allowed(request):
            response = metrics_view(request)
        else:
            response = self.get_response(request)
        self.observe(request, response.status_code, time.perf_counter() - started)
        return response

    def observe(self, request, status: int, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        if match is not None:
            view = match.view_name
        else:
            view = MIDDLEWARE_VIEWS.get(request.path_info, UNMATCHED_VIEW)
        method = request.method if request.method in KNOWN_METHODS else "other"
        key = (view, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(view, method, str(status)),
                HTTP_REQUEST_SECONDS.labels(view, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def metrics_view(request):
    """Every metric in the Prometheus text format (or OpenMetrics), all workers added up."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    # The text format, or OpenMetrics when the scraper asks for it (Prometheus does).
    encode, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(
        encode(registry), content_type=content_type, headers={"Cache-Control": "no-store"}
    )


# --- Who may read them ----------------------------------------------------------------------------


def client_is_allowed(request) -> bool:
    """Whether the request's real client is in METRICS_ALLOWED_IPS (see the module docstring)."""
    client = client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        trusted_proxies=tuple(settings.FORWARDED_ALLOW_IPS),
    )
    if client is None:
        return False
    return any(client in network for network in networks(tuple(settings.METRICS_ALLOWED_IPS)))


def client_address(peer: str, forwarded_for: str, *, trusted_proxies: tuple[str, ...]):
    """The client's address, or None when it cannot be told (then nothing is allowed).

    The peer, unless it is a trusted proxy; then the `X-Forwarded-For` hops are read from the
    right (the nearest first) and the first that is not a trusted proxy is the client. With `*`
    (gunicorn's "trust every peer") only the nearest hop is believed: the others are the client's
    to write.
    """
    address = parse_address(peer)
    if address is None or not forwarded_for.strip():
        return address
    trust_all = "*" in trusted_proxies
    trusted = networks(tuple(proxy for proxy in trusted_proxies if proxy != "*"))
    if not trust_all and not any(address in network for network in trusted):
        return address  # a direct client: its X-Forwarded-For is its own invention
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None or trust_all:
            return address
        if not any(address in network for network in trusted):
            return address
    return address  # every hop is a trusted proxy: the farthest one made the request


def parse_address(text: str):
    """An IP address (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=16)
def networks(entries: tuple[str, ...]) -> tuple:
    """IP networks of addresses or CIDRs; settings.py has already reported malformed ones."""
    parsed = []
    for entry in entries:
        try:
            parsed.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return tuple(parsed)
