"""auth0_jwt.metrics: bounded labels, and a package that works without prometheus_client."""

import subprocess
import sys

from prometheus_client import REGISTRY

from auth0_jwt import metrics


def rejected(reason) -> float:
    labels = {"issuer": metrics.UNLABELLED, "outcome": "rejected", "reason": reason}
    return REGISTRY.get_sample_value("auth0_jwt_tokens_total", labels) or 0.0


def test_a_reason_outside_the_fixed_set_counts_as_other():
    before_other = rejected("other")
    metrics.token_rejected("The token's audience is not this API.")
    assert rejected("other") == before_other + 1
    assert rejected("The token's audience is not this API.") == 0


def test_every_reason_is_a_short_code():
    assert all(reason.replace("_", "").isalpha() for reason in metrics.REJECTION_REASONS)
    assert len(set(metrics.REJECTION_REASONS)) == len(metrics.REJECTION_REASONS)


def test_the_package_works_without_prometheus_client():
    script = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None  # as if it were not installed\n"
        "from auth0_jwt import metrics\n"
        "metrics.token_accepted()\n"
        "metrics.token_rejected('expired')\n"
        "metrics.TOKEN_CACHE_HIT.inc()\n"
        "metrics.VERIFY_SECONDS.observe(0.001)\n"
        "metrics.jwks_fetched(ok=True, trigger='startup', seconds=0.1, key_count=2)\n"
        "from auth0_jwt.keystore import JWKSKeyStore\n"
        "JWKSKeyStore(lambda: None)\n"
        "print(type(metrics.TOKENS).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "NoOpInstrument\n", "")
