"""Idempotency-Key on POST /api/customers/: a retry gets the first answer and stores nothing new;
the same key with another body is a 422; keys are per owner, checked for format, kept 24 hours;
answers that stored nothing (5xx, or given before the create ran) leave the key unused.

Concurrent retries with one key, over HTTP on SQLite and PostgreSQL:
test_idempotency_concurrency.py.
"""

import datetime
import json

import pytest
from django.utils import timezone

from auth0_django_example.tests.test_database_errors import writes_held_back
from conftest import bearer
from customers.idempotency import ExpiredKeyPruner, request_fingerprint
from customers.models import Customer, IdempotencyKey

LIST_URL = "/api/customers/"
SCOPES = "read:customers write:customers"
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}
KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"
BAD_KEY = {
    "detail": "The Idempotency-Key header must be 1 to 255 printable ASCII characters, without "
    "leading or trailing spaces."
}
REUSED = {
    "detail": "This Idempotency-Key was already used with a different request. Send a new key "
    "for a new request, or the first request unchanged to get its answer."
}


@pytest.fixture
def alice(make_token):
    return bearer(make_token(sub="auth0|alice", scope=SCOPES))


@pytest.fixture
def bob(make_token):
    return bearer(make_token(sub="auth0|bob", scope=SCOPES))


def post(api_client, headers, body, key=KEY, **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return api_client.post(LIST_URL, body, format="json", **headers, **extra)


def post_raw(api_client, headers, body: bytes, content_type="application/json", key=KEY):
    return api_client.generic(
        "POST", LIST_URL, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=key, **headers
    )


pytestmark = pytest.mark.django_db


# --- Retries --------------------------------------------------------------------------------------


def test_a_retry_gets_the_first_answer_and_stores_nothing_new(api_client, alice):
    first = post(api_client, alice, ADA)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first

    retry = post(api_client, alice, ADA)
    assert retry.status_code == 201
    assert retry.content == first.content  # byte for byte, the same customer
    assert retry["Location"] == first["Location"]
    assert retry["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_the_body_is_compared_as_json_not_as_bytes(api_client, alice):
    first = post_raw(api_client, alice, b'{"name": "Ada Lovelace", "email": "ada@example.com"}')
    retry = post_raw(api_client, alice, b'{"email":"ada@example.com","name":"Ada Lovelace"}')
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_422_and_stores_nothing(api_client, alice):
    assert post(api_client, alice, ADA).status_code == 201
    for body in ({**ADA, "name": "Ada King"}, {**ADA, "company": ""}, {"name": "Ada"}):
        other = post(api_client, alice, body)
        assert (other.status_code, other.json()) == (422, REUSED)
    assert Customer.objects.count() == 1
    # The first request, unchanged, still gets its answer.
    assert post(api_client, alice, ADA)["Idempotent-Replayed"] == "true"


def test_a_key_belongs_to_its_owner(api_client, alice, bob):
    mine = post(api_client, alice, ADA)
    theirs = post(api_client, bob, ADA)  # the same key and body, another user
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    other = post(api_client, bob, {**ADA, "name": "Someone else"})
    assert other.status_code == 422  # bob's key, with bob's first body
    assert Customer.objects.count() == 2


def test_without_a_key_every_post_is_a_new_create(api_client, alice):
    assert post(api_client, alice, ADA, key=None).status_code == 201
    duplicate = post(api_client, alice, ADA, key=None)
    assert (duplicate.status_code, duplicate.json()) == (
        400,
        {"email": ["You already have a customer with this email."]},
    )
    assert not IdempotencyKey.objects.exists()


def test_different_keys_are_different_creates(api_client, alice):
    assert post(api_client, alice, ADA, key="first").status_code == 201
    second = post(api_client, alice, ADA, key="second")
    assert (second.status_code, second.json()) == (
        400,
        {"email": ["You already have a customer with this email."]},
    )


# --- Which answers are kept -----------------------------------------------------------------------


def test_a_refused_body_is_kept_and_replayed(api_client, alice):
    """The create ran and refused the body: its 400 is the answer to that key (the draft: a
    retry gets the result of the completed operation, success or error)."""
    refused = post(api_client, alice, {"name": "", "email": "not an email"})
    assert refused.status_code == 400
    retry = post(api_client, alice, {"name": "", "email": "not an email"})
    assert (retry.status_code, retry.content) == (400, refused.content)
    assert retry["Idempotent-Replayed"] == "true"
    corrected = post(api_client, alice, ADA)  # a corrected request needs a new key
    assert (corrected.status_code, corrected.json()) == (422, REUSED)
    assert post(api_client, alice, ADA, key="corrected").status_code == 201


def test_a_duplicate_email_refusal_is_kept_even_after_the_other_customer_is_gone(api_client, alice):
    existing = post(api_client, alice, ADA, key="create")
    refused = post(api_client, alice, ADA, key="again")
    assert refused.status_code == 400
    Customer.objects.filter(id=existing.json()["id"]).delete()
    retry = post(api_client, alice, ADA, key="again")
    assert (retry.status_code, retry.json(), retry["Idempotent-Replayed"]) == (
        400,
        {"email": ["You already have a customer with this email."]},
        "true",
    )
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"name": "Ada", "email"', "application/json", 400),  # malformed JSON
        (b'{"name": "Ada"}', "text/plain", 415),
        (b'{"notes": "' + b"x" * (64 * 1024) + b'"}', "application/json", 413),
    ],
    ids=["malformed-json", "not-json", "too-large"],
)
def test_a_body_refused_before_the_create_leaves_the_key_unused(
    api_client, alice, body, content_type, status
):
    assert post_raw(api_client, alice, body, content_type).status_code == status
    assert not IdempotencyKey.objects.exists()
    assert post(api_client, alice, ADA).status_code == 201  # the same key, a good body


def test_a_token_without_the_scope_leaves_the_key_unused(api_client, alice, make_token):
    reader = bearer(make_token(sub="auth0|alice", scope="read:customers"))
    assert post(api_client, reader, ADA).status_code == 403
    assert post(api_client, alice, ADA).status_code == 201
    assert "Idempotent-Replayed" not in post(api_client, alice, ADA, key="other-key")


@pytest.mark.django_db(transaction=True)
def test_a_create_cut_off_by_the_database_keeps_nothing_and_the_retry_creates(api_client, alice):
    assert post(api_client, alice, {**ADA, "email": "first@example.com"}, key="k0").status_code
    with writes_held_back("customers_customer"):
        cut = post(api_client, alice, ADA)
    assert (cut.status_code, cut["Retry-After"]) == (503, "5")
    assert not IdempotencyKey.objects.filter(key=KEY).exists()
    retry = post(api_client, alice, ADA)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry  # it ran: the first attempt stored nothing
    assert Customer.objects.filter(email="ada@example.com").count() == 1


# --- Key format -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "caf\xe9", "tab\there", "new\nline", "\x7f", " leading", "trailing "],
    ids=["empty", "256-characters", "latin-1", "tab", "newline", "del", "leading", "trailing"],
)
def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_400(api_client, alice, key):
    answer = post(api_client, alice, ADA, key=key)
    assert (answer.status_code, answer.json()) == (400, BAD_KEY)
    assert not Customer.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["a", "x" * 255, '"8e03978e-40d5-43e8-bc93-6894a57f9324"', "with inner spaces", "~!@#$%^&*()"],
    ids=["one", "255-characters", "sf-string", "spaces", "punctuation"],
)
def test_printable_ascii_keys_are_accepted_as_sent(api_client, alice, key):
    assert post(api_client, alice, ADA, key=key).status_code == 201
    assert IdempotencyKey.objects.get().key == key
    assert post(api_client, alice, ADA, key=key)["Idempotent-Replayed"] == "true"


# --- 24 hours -------------------------------------------------------------------------------------


def age(key: str, hours: float) -> None:
    """Make `key`'s row as old as `hours`."""
    created = timezone.now() - datetime.timedelta(hours=hours)
    IdempotencyKey.objects.filter(key=key).update(
        created_at=created, expires_at=created + datetime.timedelta(hours=24)
    )


def test_a_key_is_kept_for_24_hours(api_client, alice):
    first = post(api_client, alice, ADA)
    age(KEY, 23.9)
    retry = post(api_client, alice, ADA)
    assert (retry.content, retry["Idempotent-Replayed"]) == (first.content, "true")


def test_an_expired_key_is_a_new_key(api_client, alice):
    assert post(api_client, alice, ADA).status_code == 201
    age(KEY, 24)
    other = post(api_client, alice, {**ADA, "email": "king@example.com"})  # no 422 any more
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other
    assert IdempotencyKey.objects.get().fingerprint == request_fingerprint(
        "POST", LIST_URL, {**ADA, "email": "king@example.com"}
    )


def test_expired_keys_are_pruned_at_most_once_per_interval(api_client, alice, clock):
    for key in ("old-1", "old-2", "fresh"):
        post(api_client, alice, {**ADA, "email": f"{key}@example.com"}, key=key)
    age("old-1", 25)
    age("old-2", 24)
    pruner = ExpiredKeyPruner(interval=60, clock=clock)
    assert pruner() == 2
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    age("fresh", 30)
    clock.advance(59)
    assert pruner() == 0  # not yet
    clock.advance(1)
    assert pruner() == 1
    assert not IdempotencyKey.objects.exists()


def test_what_is_kept(api_client, alice):
    created = post(api_client, alice, ADA)
    record = IdempotencyKey.objects.get()
    assert (record.owner.username, record.key, record.status, record.location) == (
        "auth0.alice",
        KEY,
        201,
        created["Location"],
    )
    assert json.loads(record.body) == created.json()
    assert record.expires_at - record.created_at == datetime.timedelta(hours=24)
    assert record.fingerprint == request_fingerprint("POST", LIST_URL, ADA)
