import pytest
from django.test import Client, override_settings

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def login(client, username, password):
    client.post("/admin/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_account_even_for_the_right_password():
    make_user(superuser=True, username="boss")
    client = Client()
    assert not any(login(client, "boss", "wrong") for _ in range(3))
    assert not login(client, "boss", "test-pass-123")


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_failures_below_the_limit_do_not_lock():
    make_user(superuser=True, username="boss")
    client = Client()
    login(client, "boss", "wrong")
    login(client, "boss", "wrong")
    assert login(client, "boss", "test-pass-123")


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_one_address_guessing_many_usernames_is_locked_out():
    make_user(superuser=True, username="boss")
    client = Client()
    for name in ("a", "b", "c"):
        login(client, name, "x")
    assert not login(client, "boss", "test-pass-123")
