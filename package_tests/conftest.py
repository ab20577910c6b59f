"""The package tests' shared fixture: the wheel, built once per test session."""

from pathlib import Path

import pytest
from support import build_wheel


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The distribution built from the repository, as `pip install .` builds it."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))
