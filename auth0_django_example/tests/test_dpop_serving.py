"""DPoP against real gunicorn processes behind the documented TLS proxy settings: one proof
replayed 8 times at once to two workers, and replayed to a second instance sharing the replay
store (the database table, or Redis when REDIS_URL is set). Every replay gets the 401. And the
service's CORS settings, which let browser clients send the DPoP header.

Each test starts its own gunicorn processes on 127.0.0.1 (ports the OS picks), keys from the
jwks_server fixture, and stops them at the end.
"""

import json
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auth0_django_example.tests.support import HOST, PROXIED, manage, production_environment
from auth0_jwt.local_issuer import create_dpop_proof
from auth0_jwt.tests.dpop_support import thumbprint

URL = f"https://{HOST}/api/private/"
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."
CHALLENGE = f'DPoP algs="ES256", error="invalid_dpop_proof", error_description="{REPLAYED}"'


@pytest.fixture(scope="module")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def served_variables(tmp_path, jwks_server, static_root) -> dict[str, str]:
    """What `serve` gives every server of this module: the documented production environment on a
    migrated SQLite file shared by every process of the test."""
    variables = {
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_STATIC_ROOT": str(static_root),
        "GUNICORN_ACCESS_LOG": "0",
    }
    result = manage("migrate", "--noinput", env=production_environment(**variables))
    assert result.returncode == 0, result.stderr
    return variables


def dpop_get(server, token, proof):
    return server.get(
        "/api/private/", headers={**PROXIED, "Authorization": f"DPoP {token}", "DPoP": proof}
    )


def assert_replay_refused(answer):
    assert answer.status == 401, answer.body
    assert json.loads(answer.body) == {"detail": REPLAYED}
    assert answer.headers["WWW-Authenticate"] == CHALLENGE


def test_one_proof_replayed_8_times_to_two_workers_is_refused_every_time(
    serve, make_token, client_key
):
    server = serve("two-workers", WEB_CONCURRENCY="2", GUNICORN_THREADS="4")
    token = make_token(cnf={"jkt": thumbprint(client_key)})
    proof = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
    first = dpop_get(server, token, proof)
    assert first.status == 200, (first.body, server.log_text())
    assert json.loads(first.body)["sub"] == "auth0|user-1"

    answers, start = [], threading.Barrier(8)

    def replay():
        start.wait()
        answers.append(dpop_get(server, token, proof))

    threads = [threading.Thread(target=replay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 8
    for answer in answers:
        assert_replay_refused(answer)
    # A new proof (new jti) from the same client is fine.
    fresh = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
    assert dpop_get(server, token, fresh).status == 200


@pytest.mark.parametrize("store", ["database", "redis"])
def test_proof_accepted_by_one_instance_is_refused_by_another(
    request, serve, make_token, client_key, store
):
    overrides = {"WEB_CONCURRENCY": "1"}
    if store == "redis":
        overrides["REDIS_URL"] = request.getfixturevalue("redis_server").url
    first_instance = serve("instance-a", **overrides)
    second_instance = serve("instance-b", **overrides)
    token = make_token(cnf={"jkt": thumbprint(client_key)})
    proof = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
    assert dpop_get(first_instance, token, proof).status == 200
    for _ in range(8):
        assert_replay_refused(dpop_get(second_instance, token, proof))
        assert_replay_refused(dpop_get(first_instance, token, proof))


def test_redis_outage_is_a_503_for_dpop_while_bearer_keeps_working(
    serve, make_token, client_key, redis_server
):
    # The restarted Redis has forgotten its proofs: the store refuses proofs issued before the
    # reset's detection plus the iat leeway (test_replay_reset*), here 2 s instead of 30.
    server = serve(
        "redis-outage", WEB_CONCURRENCY="1", REDIS_URL=redis_server.url, AUTH0_DPOP_IAT_LEEWAY="2"
    )
    token = make_token(cnf={"jkt": thumbprint(client_key)})
    proof = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
    assert dpop_get(server, token, proof).status == 200
    redis_server.stop()
    try:
        proof = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
        answer = dpop_get(server, token, proof)
        assert answer.status == 503, answer.body
        assert json.loads(answer.body) == {
            "detail": "DPoP proofs cannot be checked right now: the replay cache is unavailable. "
            "Try again shortly."
        }
        assert answer.headers["Retry-After"] == "5"
        plain = make_token()
        headers = {**PROXIED, "Authorization": f"Bearer {plain}"}
        assert server.get("/api/private/", headers=headers).status == 200
    finally:
        redis_server.start()
    deadline = time.monotonic() + 15
    while True:  # the same client reconnects to the restarted server
        proof = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
        if dpop_get(server, token, proof).status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    proof = create_dpop_proof(client_key, method="GET", url=URL, access_token=token)
    assert dpop_get(server, token, proof).status == 200


# --- The service's CORS settings let browser clients use DPoP -------------------------------------


def test_browsers_may_send_the_dpop_header_and_read_the_nonce_cross_origin(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.test"]
    preflight = api_client.options(
        "/api/private/",
        HTTP_ORIGIN="https://app.example.test",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, dpop",
    )
    assert preflight.status_code == 200
    allowed = preflight["Access-Control-Allow-Headers"].split(", ")
    assert {"authorization", "dpop"} <= set(allowed)
    answer = api_client.get("/api/private/", HTTP_ORIGIN="https://app.example.test")
    assert "DPoP-Nonce" in answer["Access-Control-Expose-Headers"].split(", ")
