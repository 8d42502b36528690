"""Login throttling: after too many failures for one username or one client address, refuse
further attempts for a while, whatever the password. Counts live in the cache (Redis when
REDIS_URL is set, so all web workers share them)."""
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver


def _client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "unknown"


def _keys(username: str, request) -> list[str]:
    return [f"login-fail:user:{(username or '').lower()}", f"login-fail:ip:{_client_ip(request)}"]


def is_locked_out(username: str, request) -> bool:
    limit = settings.LOGIN_FAILURE_LIMIT
    return any((cache.get(key) or 0) >= limit for key in _keys(username, request))


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs):
    for key in _keys(credentials.get("username", ""), request):
        if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and is_locked_out(username, request):
            # PermissionDenied stops Django trying the other backends; the attempt still counts.
            raise PermissionDenied("too many failed logins")
        return super().authenticate(request, username=username, password=password, **kwargs)
