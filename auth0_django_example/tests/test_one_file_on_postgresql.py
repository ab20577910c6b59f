"""`scripts/test-postgres.sh <one test file>` (issue 21): a subset whose only database use is a
fixture's `getfixturevalue("transactional_db")` still gets its test database. pytest-django sets up
only the databases that the collected tests declare, so such modules declare theirs.

Runs under `make test-postgres` only: it starts pytest on two such subsets against the same
PostgreSQL server, under another database name so that its test database is not this run's."""

import os
import subprocess
import sys

import pytest
from django.db import connection

from auth0_django_example.tests.support import PROJECT_DIR

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the subsets' problem is PostgreSQL's"
)

SUBSETS = [
    ["auth0_jwt/tests/test_replay.py", "-k", "remembered_once"],
    ["auth0_django_example/tests/test_serving.py", "-k", "behind_a_tls_proxy"],
]


@pytest.mark.parametrize("subset", SUBSETS, ids=lambda subset: subset[0])
def test_a_subset_run_alone_finds_its_test_database(subset):
    settings = connection.settings_dict
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    url = f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/auth0_example_subset"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
         "--create-db", *subset],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
