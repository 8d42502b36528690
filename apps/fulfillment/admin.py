import json

from django.contrib import admin
from django.db import models
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyModelAdmin
from apps.orders.selectors import orders_visible_to

from .models import Carrier, Package, PickTask, ScanLog, SenderProfile, Shipment, ShopCarrier, Wave


def _pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    """Accounts and the endpoint are the company's to edit; the schema is reference data from
    fixtures/carriers/ (a reload would overwrite an edit), so it is shown, not edited."""

    list_display = ["code", "name_zh", "name_en", "is_active", "monthly_account", "api_base_url"]
    list_editable = ["is_active"]
    fields = ["code", "name_zh", "name_en", "is_active", "monthly_account", "cod_account", "api_base_url",
              "webhook_secret", "tracking_number_pattern", "schema"]
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


@admin.register(ShopCarrier)
class ShopCarrierAdmin(admin.ModelAdmin):
    """Which carrier a shop's orders go with unless the buyer asked for another (a carrier tag)."""

    list_display = ["shop", "carrier"]
    list_select_related = ["shop", "carrier"]


def _visible_warehouses(request):
    from apps.fulfillment.selectors import warehouses_worked_by

    return warehouses_worked_by(request.user).values("pk")


class PickTaskInline(admin.TabularInline):
    model = PickTask
    fields = ["sequence", "location_code", "order", "sku", "batch", "quantity", "picked_quantity", "found_quantity",
              "state", "short_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "sku", "batch")


@admin.register(Wave)
class WaveAdmin(ReadOnlyModelAdmin):
    """Waves change only through apps.fulfillment.services; scoped to the warehouses worked."""

    list_display = ["code", "warehouse", "carrier", "urgency", "cut_off", "state", "created_at", "completed_at",
                    "actor_label"]
    list_filter = ["state", "warehouse", "carrier", "urgency"]
    list_select_related = ["warehouse", "carrier"]
    fields = ["warehouse", "carrier", "urgency", "cut_off", "size_limit", "state", "created_at", "completed_at",
              "actor_label"]
    readonly_fields = fields
    inlines = [PickTaskInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(warehouse__in=_visible_warehouses(request))


@admin.register(ScanLog)
class ScanLogAdmin(ReadOnlyModelAdmin):
    """Every scan at the picking scanner; the refused ones are wrong items stopped in the building."""

    list_display = ["created_at", "wave", "outcome", "barcode", "lot_number", "quantity", "sku", "actor_label"]
    list_filter = ["outcome"]
    list_select_related = ["wave", "sku"]
    search_fields = ["=barcode", "=sku__code"]
    show_full_result_count = False
    fields = ["created_at", "wave", "task", "sku", "barcode", "lot_number", "quantity", "outcome", "shown_details",
              "actor_label"]
    readonly_fields = fields

    @admin.display(description=_("details"))
    def shown_details(self, obj):
        return _pretty_json(obj.details)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(wave__warehouse__in=_visible_warehouses(request))


@admin.register(Package)
class PackageAdmin(ReadOnlyModelAdmin):
    list_display = ["order", "weight_grams", "length_mm", "width_mm", "height_mm", "packed_at", "actor_label"]
    list_select_related = ["order"]
    search_fields = ["=order__external_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order__in=orders_visible_to(request.user).values("pk"))
