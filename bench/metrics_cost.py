"""What the Prometheus metrics cost one /api/private/ request, in CPU time, in-process.

Run by bench/run.py in a process of its own with PROMETHEUS_MULTIPROC_DIR set before anything
imports prometheus_client, so every value is written to a memory-mapped file as in a gunicorn
worker. Two Django handlers of the same settings serve /api/private/ with one repeated token, in
interleaved rounds: with MetricsMiddleware and without it. Their difference is what the HTTP
metrics cost; the token counters a request moves (a cache hit and an accepted token) are timed on
their own and added. Prints one JSON object (µs).

The wrk runs of the two services side by side measure the same thing end to end, but on a shared
2-core machine their difference is within the noise of separate processes; this is not.
"""

import io
import json
import os
import sys
from pathlib import Path

MIDDLEWARE = "auth0_django_example.metrics.MetricsMiddleware"


def main() -> None:
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR"), "run with PROMETHEUS_MULTIPROC_DIR set"
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]
    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from auth0_jwt import metrics
    from bench.support import interleaved_costs

    quick = os.environ.get("BENCH_QUICK") == "1"
    header = "Bearer " + os.environ["BENCH_TOKEN"]
    assert MIDDLEWARE in settings.MIDDLEWARE
    with_metrics = WSGIHandler()
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE]
    without_metrics = WSGIHandler()

    def request(handler):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/private/",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": header,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http",
        }
        statuses = []
        body = b"".join(handler(environ, lambda status, headers: statuses.append(status)))
        assert statuses == ["200 OK"], (statuses, body)

    def token_counters():
        metrics.TOKEN_CACHE_HIT.inc()
        metrics.TOKEN_ACCEPTED.inc()

    costs = interleaved_costs(
        {
            "with": (lambda: request(with_metrics), 200),
            "without": (lambda: request(without_metrics), 200),
            "token_counters": (token_counters, 2000),
        },
        rounds=5 if quick else 15,
    )
    http = costs["with"] - costs["without"]
    total = http + costs["token_counters"]
    print(
        json.dumps(
            {
                "request_us": costs["without"] * 1e6,
                "http_us": http * 1e6,
                "token_counters_us": costs["token_counters"] * 1e6,
                "total_us": total * 1e6,
                "share": total / costs["without"],
            }
        )
    )


if __name__ == "__main__":
    main()
