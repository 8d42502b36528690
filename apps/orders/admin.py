from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from guardian.admin import GuardedModelAdmin

from apps.core.admin import ReadOnlyModelAdmin
from apps.core.errors import DomainError

from . import selectors, services
from .models import (
    AuditRule,
    CsNote,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    OrderTag,
    RemarkKeyword,
    Shop,
    ShopApiToken,
    ShopWarehouse,
)


class ShopWarehouseInline(admin.TabularInline):
    model = ShopWarehouse
    extra = 0


@admin.register(Shop)
class ShopAdmin(GuardedModelAdmin):
    inlines = [ShopWarehouseInline]
    list_display = ["code", "name", "platform", "default_warehouse", "is_active"]
    list_filter = ["platform", "is_active"]
    search_fields = ["code", "name"]


@admin.register(ShopApiToken)
class ShopApiTokenAdmin(admin.ModelAdmin):
    list_display = ["shop", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["shop"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at"]
    fields = ["shop", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            raw, obj.prefix, obj.key_hash = ShopApiToken.generate()
            obj.created_by = request.user
            messages.warning(
                request,
                _("Copy this token now; it is stored only as a hash and will not be shown again: %(token)s")
                % {"token": raw},
            )
        super().save_model(request, obj, form, change)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["line_no", "sku", "name", "quantity", "unit_price", "discount", "line_total"]
    readonly_fields = fields


class OrderHoldInline(ReadOnlyInline):
    model = OrderHold
    fields = ["type", "reason", "owner_role", "is_automatic", "opened_at", "opened_by", "released_at",
              "released_by", "resolution"]
    readonly_fields = fields


class OrderTagInline(ReadOnlyInline):
    model = OrderTag
    fields = ["tag", "source"]
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "type", "name", "from_status", "to_status", "actor_label", "is_intervention", "payload"]
    readonly_fields = fields


@admin.action(description=_("Cancel the selected orders"), permissions=["cancel"])
def cancel_orders(modeladmin, request, queryset):
    done = 0
    for order_id, number in queryset.values_list("pk", "external_id"):
        try:
            services.order_transition(order_id=order_id, name="cancel", actor=request.user,
                                      reason=str(_("Cancelled in the admin")))
            done += 1
        except DomainError as exc:
            messages.error(request, f"{number}: {exc.message}")
    if done:
        messages.success(request, ngettext("%(count)d order cancelled.", "%(count)d orders cancelled.", done)
                         % {"count": done})


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read-only: orders change only through services (status, holds), never by editing fields."""

    list_display = ["external_id", "shop", "status", "payment_status", "receiver_name", "grand_total", "placed_at"]
    list_filter = ["status", "payment_status", "shop", "platform"]
    search_fields = ["=external_id", "=phone_tail"]
    list_select_related = ["shop"]
    show_full_result_count = False
    date_hierarchy = "placed_at"
    ordering = ["-placed_at"]
    inlines = [OrderLineInline, OrderTagInline, OrderHoldInline, OrderEventInline]
    actions = [cancel_orders]
    raw_id_fields = ["customer"]

    def get_queryset(self, request):
        # The admin is a page like any other: staff see only the orders of their scope.
        return selectors.orders_visible_to(request.user)

    fieldsets = [
        (None, {"fields": [("external_id", "shop", "platform"), ("status", "status_changed_at", "promised_ship_by"),
                           ("payment_status", "paid_at"), ("customer", "buyer_nickname", "warehouse"), "placed_at"]}),
        (_("Shipping address"), {"fields": [("receiver_name", "receiver_phone"), ("province", "city", "district"),
                                            ("address_detail", "postal_code")]}),
        (_("Amounts"), {"fields": [("goods_total", "shipping_fee", "discount_total"),
                                   ("grand_total", "paid_amount", "currency")]}),
        (_("Remarks"), {"fields": ["buyer_remark", "seller_remark"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for fieldset in self.fieldsets for row in fieldset[1]["fields"]
                for name in (row if isinstance(row, tuple) else (row,))]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("orders.cancel_order")


class AppendOnlyAdmin(ReadOnlyModelAdmin):
    """Rows owned by an order: read-only, scoped through the order."""

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order__in=selectors.orders_visible_to(request.user).values("pk"))


@admin.register(OrderEvent)
class OrderEventAdmin(AppendOnlyAdmin):
    list_display = ["created_at", "order", "type", "name", "from_status", "to_status", "actor_label", "is_intervention"]
    list_filter = ["type", "is_intervention"]
    list_select_related = ["order"]
    search_fields = ["=order__external_id"]
    show_full_result_count = False


@admin.register(OrderHold)
class OrderHoldAdmin(AppendOnlyAdmin):
    list_display = ["order", "type", "reason", "owner_role", "opened_at", "released_at", "resolution"]
    list_filter = ["type", "owner_role"]
    list_select_related = ["order"]
    search_fields = ["=order__external_id"]


@admin.register(CsNote)
class CsNoteAdmin(AppendOnlyAdmin):
    """Who wrote a private note on which order, and when; the text itself is for customer service
    only (the order page), never shown here."""

    list_display = ["created_at", "order", "author"]
    list_select_related = ["order", "author"]
    search_fields = ["=order__external_id"]
    fields = ["order", "author", "created_at"]


@admin.register(OrderLine)
class OrderLineAdmin(AppendOnlyAdmin):
    list_display = ["order", "line_no", "sku", "name", "quantity", "unit_price", "line_total"]
    list_select_related = ["order", "sku"]
    search_fields = ["=order__external_id", "=sku__code"]


@admin.register(RemarkKeyword)
class RemarkKeywordAdmin(admin.ModelAdmin):
    list_display = ["keyword", "tag", "label", "is_active"]
    list_editable = ["is_active"]
    list_filter = ["tag", "is_active"]
    search_fields = ["keyword", "tag", "label"]


@admin.register(AuditRule)
class AuditRuleAdmin(admin.ModelAdmin):
    list_display = ["code", "is_active", "owner_role"]
    list_editable = ["is_active", "owner_role"]
