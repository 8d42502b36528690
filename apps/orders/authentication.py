"""Per-shop API tokens for platform integrations: `Authorization: Bearer oh_xxxxxxxx_…`."""
import functools

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.core.db import instances_from_row, prepared_rows, select_columns, uses_postgresql

from .models import Shop, ShopApiToken, hash_token


class ShopPrincipal:
    """What a shop token acts as: the shop's own integration, limited to intake and its own orders."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None
    id = None

    PERMISSIONS = frozenset(
        {
            "orders.add_order",
            "orders.view_order",
            "orders.pay_order",
            "orders.cancel_order",
            "orders.view_personal_data",
        }
    )

    def __init__(self, token: ShopApiToken):
        self.token = token
        self.shop = token.shop

    def has_perm(self, perm, obj=None):
        return perm in self.PERMISSIONS

    @property
    def label(self) -> str:
        return f"token:{self.shop.code}:{self.token.prefix}"

    def __str__(self):
        return self.label


@functools.cache
def _active_token_sql() -> str:
    # Built from the models once per process, so it follows their fields.
    return (f"SELECT {select_columns(ShopApiToken, 't')}, {select_columns(Shop, 's')} "
            f"FROM {ShopApiToken._meta.db_table} t JOIN {Shop._meta.db_table} s ON s.id = t.shop_id "
            f"WHERE t.key_hash = %s AND t.revoked_at IS NULL AND s.is_active")


def _active_token(key_hash: str) -> ShopApiToken | None:
    """The unrevoked token of an active shop with this hash, its shop attached. Every intake
    request asks: on PostgreSQL a prepared statement instead of compiling the ORM query each time."""
    if not uses_postgresql():
        return (ShopApiToken.objects.select_related("shop")
                .filter(key_hash=key_hash, revoked_at__isnull=True, shop__is_active=True).first())
    rows = prepared_rows(_active_token_sql(), [key_hash])
    if not rows:
        return None
    token, shop = instances_from_row(rows[0], ShopApiToken, Shop)
    ShopApiToken._meta.get_field("shop").set_cached_value(token, shop)
    return token


class ShopTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        token = _active_token(hash_token(header[1].decode("latin-1")))
        if token is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API token."))
        now = timezone.now()
        # Touch at most once a minute so intake at 800 orders/min does not rewrite the row each time.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ShopApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ShopPrincipal(token), token

    def authenticate_header(self, request):
        return self.keyword


class ShopTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.orders.authentication.ShopTokenAuthentication"
    name = "shopToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Per-shop API token (oh_…)"}
