"""The precompiled user-by-sub query: the same user the ORM would load, read afresh every time."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from auth0_jwt import user_lookup
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


# --- The fallback: the plain ORM query when the compiler internals are not usable ----------------


@pytest.fixture
def internals_unavailable(monkeypatch):
    """This Django's compiler internals fail as a future release that changed them would."""

    monkeypatch.setattr(user_lookup, "_compile_user_query", _raise_attribute_error)
    compiled_user_query.cache_clear()
    yield
    compiled_user_query.cache_clear()


def answers(subjects) -> list:
    """What find_user_for_subject answers for each subject: None, or the user's concrete values
    with its model and database state."""
    results = []
    for sub in subjects:
        user = find_user_for_subject(sub)
        results.append(
            None
            if user is None
            else (type(user), concrete_values(user), user._state.adding, user._state.db)
        )
    return results


SUBJECTS = ["auth0|alice", "auth0|bob", "google-oauth2|carol", "auth0|nobody", "' OR '1'='1", "%"]


def make_users():
    alice = get_or_create_user_for_subject("auth0|alice")
    get_or_create_user_for_subject("auth0|bob")
    carol = get_or_create_user_for_subject("google-oauth2|carol")
    get_user_model().objects.filter(pk=alice.pk).update(
        email="alice@example.test", last_login=timezone.now(), is_staff=True
    )
    get_user_model().objects.filter(pk=carol.pk).update(is_active=False, first_name="Carol")


def test_the_compiled_query_is_used_where_the_internals_work():
    compiled_user_query.cache_clear()
    assert isinstance(compiled_user_query("default"), user_lookup.CompiledUserQuery)


def test_without_the_internals_the_orm_query_is_used(internals_unavailable, caplog):
    make_users()
    with caplog.at_level("WARNING", logger="auth0_jwt.user_lookup"):
        assert find_user_for_subject("auth0|alice").username == "auth0.alice"
        assert find_user_for_subject("auth0|nobody") is None
    assert compiled_user_query("default") is None
    assert [record.getMessage() for record in caplog.records] == [
        "User lookup: the precompiled query is unavailable on this Django (AttributeError: "
        "'SQLCompiler' object has no attribute 'get_converters'); using the ORM query instead"
    ]


def test_the_fallback_gives_the_same_answers_as_the_compiled_query(monkeypatch):
    make_users()
    compiled_user_query.cache_clear()
    fast = answers(SUBJECTS)
    assert compiled_user_query("default") is not None

    monkeypatch.setattr(user_lookup, "_compile_user_query", _raise_attribute_error)
    compiled_user_query.cache_clear()
    slow = answers(SUBJECTS)
    assert compiled_user_query("default") is None
    compiled_user_query.cache_clear()

    assert slow == fast
    assert [answer is not None for answer in fast] == [True, True, True, False, False, False]
    assert fast[2][1]["is_active"] is False  # an inactive user is returned, not hidden


def test_the_fallback_reads_the_current_row_every_time(internals_unavailable):
    user = get_or_create_user_for_subject("auth0|alice")
    assert find_user_for_subject("auth0|alice").is_active is True
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert find_user_for_subject("auth0|alice").is_active is False


def _raise_attribute_error(alias):
    raise AttributeError("'SQLCompiler' object has no attribute 'get_converters'")
