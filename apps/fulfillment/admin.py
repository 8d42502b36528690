import json

from django.contrib import admin
from django.db import models
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyModelAdmin
from apps.orders.selectors import orders_visible_to

from .models import Carrier, SenderProfile, Shipment


def _pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    """Accounts and the endpoint are the company's to edit; the schema is reference data from
    fixtures/carriers/ (a reload would overwrite an edit), so it is shown, not edited."""

    list_display = ["code", "name_zh", "name_en", "is_active", "monthly_account", "api_base_url"]
    list_editable = ["is_active"]
    fields = ["code", "name_zh", "name_en", "is_active", "monthly_account", "cod_account", "api_base_url",
              "tracking_number_pattern", "schema"]
    readonly_fields = ["code", "name_zh", "name_en", "tracking_number_pattern", "schema"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("e-waybill field schema"))
    def schema(self, obj):
        return _pretty_json(obj.waybill_schema)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SenderProfile)
class SenderProfileAdmin(admin.ModelAdmin):
    list_display = ["warehouse", "name", "phone", "province", "city"]
    list_select_related = ["warehouse"]


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyModelAdmin):
    """Shipments change only through apps.fulfillment.services; scoped like their orders."""

    list_display = ["tracking_number", "carrier", "order", "state", "service_type", "weight", "requested_at",
                    "issued_at"]
    list_filter = ["state", "carrier"]
    list_select_related = ["carrier", "order"]
    search_fields = ["=tracking_number", "=order__external_id"]
    show_full_result_count = False
    fields = ["order", "carrier", "state", "request_id", "service_type", "tracking_number", "sort_code",
              "package_centre", "short_address", "weight", "cod_amount", "insured_value", "requested_at",
              "issued_at", "actor_label", "payload"]
    readonly_fields = fields

    @admin.display(description=_("request as sent"))
    def payload(self, obj):
        return _pretty_json(obj.request_payload)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order__in=orders_visible_to(request.user).values("pk"))
