import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import make_token, make_user

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            # A flush without a restore re-creates the content types under new ids; the next
            # serialized test's restore then collides with them, so which tests fail would depend
            # on the order they run in.
            raise pytest.UsageError(f"{item.nodeid}: a transactional test needs serialized_rollback=True")
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks, concurrent transactions): "
        "run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderhub"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"


@pytest.fixture(autouse=True, scope="session")
def media_outside_the_checkout(tmp_path_factory):
    """Uploaded files (import jobs, the demo's sample files) go to a temporary folder, not var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def fresh_cache():
    """Login-failure counters live in the cache; no test may inherit another's."""
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def token_client():
    """An API client authenticated with a fresh token of the given shop."""

    def build(shop):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(shop)}")
        return client

    return build


@pytest.fixture
def user_client():
    def build(role, **scope):
        user = make_user(role, **scope)
        client = APIClient()
        client.force_authenticate(user)
        client.user = user
        return client

    return build


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users are made by the dozen; the production hasher's cost is deliberate, not tested here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
