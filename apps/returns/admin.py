from django.contrib import admin

from apps.core.admin import ReadOnlyModelAdmin

from .models import ReasonNode, ReturnEvent, ReturnLine, ReturnRequest


@admin.register(ReasonNode)
class ReasonNodeAdmin(admin.ModelAdmin):
    """The reason tree is editable by admins; the level follows the parent (a CHECK keeps it 1–3)."""

    list_display = ["code", "name_zh", "name_en", "level", "requires_text", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]
    readonly_fields = ["level"]

    def save_model(self, request, obj, form, change):
        obj.level = obj.parent.level + 1 if obj.parent_id else 1
        super().save_model(request, obj, form, change)


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    readonly_fields = ["order_line", "quantity", "outcome", "refund_amount"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "order", "kind", "state", "reason", "refund_amount", "created_at"]
    list_filter = ["kind", "state"]
    inlines = [ReturnLineInline]


@admin.register(ReturnEvent)
class ReturnEventAdmin(ReadOnlyModelAdmin):
    list_display = ["request", "name", "from_state", "to_state", "actor_label", "created_at"]
