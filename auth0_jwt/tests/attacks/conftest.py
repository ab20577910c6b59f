"""Fixtures of the attack and fault suite."""

import socket
import socketserver
import threading
from http.server import ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auth0_jwt.runtime import build_token_verifier, get_token_verifier, reset_token_verifier

# The shared assertions report like pytest's own (with the differing values).
pytest.register_assert_rewrite("auth0_jwt.tests.attacks.support")


@pytest.fixture
def configure(settings, clock):
    """Change the `AUTH0` setting for one test; the rebuilt key store keeps the fake clock."""

    def apply(**overrides):
        settings.AUTH0 = {**settings.AUTH0, **overrides}
        reset_token_verifier(build_token_verifier(clock=clock))
        return get_token_verifier()

    return apply


@pytest.fixture(scope="session")
def ec_key():
    """A P-256 key, for ES256 attacks."""
    return ec.generate_private_key(ec.SECP256R1())


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RawHTTPServer:
    """A TCP server on 127.0.0.1 that answers every connection with `answer`, byte for byte:
    for the broken HTTP a faulty identity provider or proxy can send."""

    def __init__(self):
        self.answer = b""
        self.connections = 0
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                server.connections += 1
                self.request.recv(65536)
                try:
                    self.request.sendall(server.answer)
                except OSError:
                    pass

        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.tcp.daemon_threads = True
        self.thread = threading.Thread(
            target=self.tcp.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.tcp.server_address[1]}/.well-known/jwks.json"

    def close(self):
        self.tcp.shutdown()
        self.tcp.server_close()


@pytest.fixture
def raw_http_server():
    server = RawHTTPServer()
    yield server
    server.close()


@pytest.fixture
def late_jwks_server(jwks_server):
    """A port where nothing listens yet, and `start()` to serve the JWKS server's answers there:
    an identity provider that is down at start and comes back."""

    class Late:
        port = unused_port()
        url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
        httpd = None

        def start(self):
            handler = jwks_server.httpd.RequestHandlerClass  # shares hits, status, document
            self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
            self.httpd.daemon_threads = True
            threading.Thread(
                target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()

    late = Late()
    yield late
    if late.httpd is not None:
        late.httpd.shutdown()
        late.httpd.server_close()
