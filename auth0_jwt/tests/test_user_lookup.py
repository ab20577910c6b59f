"""The precompiled user-by-sub query: the same user the ORM would load, read afresh every time."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from auth0_jwt.models import Auth0Identity
from auth0_jwt.user_lookup import compiled_user_query, find_user_for_subject
from auth0_jwt.users import get_or_create_user_for_subject

pytestmark = pytest.mark.django_db


def concrete_values(user) -> dict:
    return {field.attname: getattr(user, field.attname) for field in user._meta.concrete_fields}


def test_it_loads_exactly_the_user_the_orm_loads():
    user = get_or_create_user_for_subject("auth0|alice")
    get_user_model().objects.filter(pk=user.pk).update(
        email="alice@example.test", last_login=timezone.now(), is_staff=True
    )
    expected = Auth0Identity.objects.select_related("user").get(sub="auth0|alice").user
    found = find_user_for_subject("auth0|alice")
    assert type(found) is get_user_model()
    assert concrete_values(found) == concrete_values(expected)
    assert found.is_active is True
    assert found.is_staff is True
    assert isinstance(found.last_login, datetime.datetime)
    assert timezone.is_aware(found.last_login)
    assert (found._state.adding, found._state.db) == (False, "default")


def test_unknown_subject_gives_none():
    get_or_create_user_for_subject("auth0|alice")
    assert find_user_for_subject("auth0|bob") is None


@pytest.mark.parametrize("sub", ["' OR '1'='1", "auth0|alice' --", "%", "auth0|%"])
def test_the_subject_is_a_parameter_never_sql(sub):
    get_or_create_user_for_subject("auth0|alice")
    assert find_user_for_subject(sub) is None


def test_every_call_reads_the_current_row():
    user = get_or_create_user_for_subject("auth0|alice")
    assert find_user_for_subject("auth0|alice").is_active is True
    get_user_model().objects.filter(pk=user.pk).update(is_active=False, first_name="Al")
    found = find_user_for_subject("auth0|alice")
    assert found.is_active is False
    assert found.first_name == "Al"


def test_a_relinked_subject_gives_its_new_user_at_once():
    first = get_or_create_user_for_subject("auth0|alice")
    second = get_user_model().objects.create(username="alice-2")
    Auth0Identity.objects.filter(sub="auth0|alice").update(user=second)
    assert find_user_for_subject("auth0|alice").pk == second.pk != first.pk


def test_a_deleted_user_is_created_again_on_its_next_token():
    user = get_or_create_user_for_subject("auth0|alice")
    user.delete()
    assert find_user_for_subject("auth0|alice") is None
    again = get_or_create_user_for_subject("auth0|alice")
    assert again.pk != user.pk
    assert find_user_for_subject("auth0|alice").pk == again.pk


def test_the_loaded_user_saves_as_an_update_not_a_new_row():
    get_or_create_user_for_subject("auth0|alice")
    found = find_user_for_subject("auth0|alice")
    found.first_name = "Alice"
    found.save()
    assert get_user_model().objects.count() == 1
    assert get_user_model().objects.get().first_name == "Alice"


def test_the_query_is_compiled_once_per_database():
    compiled_user_query.cache_clear()
    get_or_create_user_for_subject("auth0|alice")
    for _ in range(5):
        find_user_for_subject("auth0|alice")
    info = compiled_user_query.cache_info()
    assert (info.misses, info.currsize) == (1, 1)
    assert compiled_user_query("default").sql.count("%s") == 1
