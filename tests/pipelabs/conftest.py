import pytest

from clients.services import create_operator


@pytest.fixture
def fast_passwords(settings):
    """Logins in a test need no real password hashing (hundreds of ms each with the default hasher)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def signed_in_operator(client, fast_passwords):
    """The test client, signed in as a superuser operator "op"."""
    _, password = create_operator("op")
    assert client.login(username="op", password=password)
    return client
