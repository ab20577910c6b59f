"""Just-in-time users under concurrency: first requests that race (same subject, or two subjects
whose usernames collide) all get their own user, exactly one each. Run on SQLite and on PostgreSQL
(`make test-postgres`), where the inserts really do overlap."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from auth0_jwt.models import Auth0Identity
from auth0_jwt.users import get_or_create_user_for_subject

pytestmark = pytest.mark.django_db(transaction=True)


def race(subjects: list[str]) -> list:
    """Call get_or_create_user_for_subject for each subject at once, one thread each."""
    barrier = threading.Barrier(len(subjects))
    results: list = [None] * len(subjects)

    def run(position, subject):
        try:
            barrier.wait(timeout=30)
            results[position] = get_or_create_user_for_subject(subject)
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a thread hit
            results[position] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(subjects)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("round_", range(3))
def test_racing_first_requests_of_one_subject_share_one_user(round_):
    sub = f"auth0|racer-{round_}"
    users = race([sub] * 8)
    assert [type(user).__name__ for user in users] == ["User"] * 8
    assert len({user.pk for user in users}) == 1
    assert Auth0Identity.objects.filter(sub=sub).count() == 1
    assert get_user_model().objects.filter(username=f"auth0.racer-{round_}").count() == 1


@pytest.mark.parametrize("round_", range(3))
def test_racing_subjects_whose_usernames_collide_each_get_their_own_user(round_):
    # "auth0|twin-N" and "auth0.twin-N" both map to the username "auth0.twin-N".
    pipe, dot = f"auth0|twin-{round_}", f"auth0.twin-{round_}"
    users = race([pipe, dot] * 4)
    assert [type(user).__name__ for user in users] == ["User"] * 8
    by_subject = {
        sub: {user.pk for user, s in zip(users, [pipe, dot] * 4, strict=True) if s == sub}
        for sub in (pipe, dot)
    }
    assert len(by_subject[pipe]) == len(by_subject[dot]) == 1
    assert by_subject[pipe] != by_subject[dot]
    identities = Auth0Identity.objects.filter(sub__in=[pipe, dot]).select_related("user")
    usernames = sorted(identity.user.username for identity in identities)
    assert len(usernames) == 2
    assert usernames[0] == f"auth0.twin-{round_}"
    assert usernames[1].startswith(f"auth0.twin-{round_}-")  # the hash-suffixed one
