"""Encryption at rest for the few texts only some roles may read (customer service's private notes).

Keys are Fernet keys (AES-128-CBC + HMAC-SHA256) from `ORDERHUB_NOTES_KEYS` (comma-separated;
the first encrypts, all decrypt, so a key can be rotated). Without it a key is generated into
var/ for the zero-setup demo, like SECRET_KEY (config/settings.py).
"""
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .errors import DomainError


class UnreadableSecret(DomainError):
    code = "unreadable_secret"
    http_status = 500
    default_message = _("A stored note cannot be decrypted with the configured keys (ORDERHUB_NOTES_KEYS).")


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_text(text: str) -> str:
    return _fernet(tuple(settings.ORDERHUB_NOTES_KEYS)).encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet(tuple(settings.ORDERHUB_NOTES_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret() from exc
