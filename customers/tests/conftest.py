"""Fixtures shared by the customers tests: two Django users who own customers."""

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def owner():
    return get_user_model().objects.create(username="alice")


@pytest.fixture
def other_owner():
    return get_user_model().objects.create(username="bob")
