"""`manage.py link_auth0_users`: users the tutorial created by hand are linked to their Auth0
subjects, so that their first token finds them instead of creating a second user."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from auth0_jwt.models import Auth0Identity
from auth0_jwt.users import get_or_create_user_for_subject

pytestmark = pytest.mark.django_db


def link(*arguments: str) -> list[str]:
    out = io.StringIO()
    call_command("link_auth0_users", *arguments, stdout=out)
    return out.getvalue().splitlines()


def tutorial_user(username: str):
    """A user the tutorial had created by hand (no Auth0Identity row)."""
    return get_user_model().objects.create_user(username=username)


def test_a_tutorial_user_is_linked_and_its_first_token_finds_it():
    alice = tutorial_user("auth0.alice")
    assert link("auth0|alice") == ["auth0|alice: linked to user auth0.alice"]
    assert Auth0Identity.objects.get(sub="auth0|alice").user == alice
    assert get_or_create_user_for_subject("auth0|alice") == alice
    assert get_user_model().objects.count() == 1


def test_without_the_link_the_first_token_gets_a_second_user():
    """Why the command exists: the tutorial's username is taken, so a suffixed user is made."""
    alice = tutorial_user("auth0.alice")
    user = get_or_create_user_for_subject("auth0|alice")
    assert user != alice
    assert user.username.startswith("auth0.alice-")


def test_a_second_run_changes_nothing():
    tutorial_user("google-oauth2.123")
    assert link("google-oauth2|123") == ["google-oauth2|123: linked to user google-oauth2.123"]
    assert link("google-oauth2|123") == [
        "google-oauth2|123: already linked to user google-oauth2.123"
    ]
    assert Auth0Identity.objects.count() == 1


def test_dry_run_says_what_it_would_do_and_links_nothing():
    tutorial_user("auth0.alice")
    assert link("--dry-run", "auth0|alice") == ["auth0|alice: would be linked to user auth0.alice"]
    assert not Auth0Identity.objects.exists()


def test_subjects_from_stdin_and_a_subject_without_a_user(monkeypatch):
    tutorial_user("auth0.alice")
    monkeypatch.setattr("sys.stdin", io.StringIO("auth0|alice\n\nauth0|bob\n"))
    lines = link("-")
    assert lines == [
        "auth0|alice: linked to user auth0.alice",
        "auth0|bob: no user named auth0.bob: nothing to link (its first token creates one)",
    ]
    assert list(Auth0Identity.objects.values_list("sub", flat=True)) == ["auth0|alice"]


def test_a_user_linked_to_another_subject_is_refused_and_the_others_still_linked():
    get_or_create_user_for_subject("auth0|a.b")  # username auth0.a.b, linked to auth0|a.b
    tutorial_user("auth0.carol")
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("link_auth0_users", "auth0.a|b", "auth0|carol", stdout=out)
    assert out.getvalue().splitlines() == [
        "auth0.a|b: refused: user auth0.a.b is linked to another subject, auth0|a.b",
        "auth0|carol: linked to user auth0.carol",
    ]
    assert (str(failed.value), failed.value.returncode) == ("1 of 2 subject(s) not linked.", 1)
    assert Auth0Identity.objects.get(sub="auth0|a.b").user.username == "auth0.a.b"
    assert not Auth0Identity.objects.filter(sub="auth0.a|b").exists()


@pytest.mark.parametrize("sub", ["", " auth0|alice", "auth0|al\nice", "a" * 256])
def test_what_is_not_a_subject_is_refused(sub):
    tutorial_user("auth0.alice")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("link_auth0_users", sub, stdout=out)
    assert out.getvalue().endswith(
        ": refused: not an Auth0 user id (1 to 255 printable characters)\n"
    )
    assert not Auth0Identity.objects.exists()
