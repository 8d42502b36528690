from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyModelAdmin

from .models import ApprovalLevel, ApprovalPolicy, ApprovalRequest, ApprovalStep


class ApprovalLevelInline(admin.StackedInline):
    model = ApprovalLevel
    extra = 0
    filter_horizontal = ["approver_groups", "approver_users"]


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """Policies are configuration: admins edit conditions and levels here."""

    inlines = [ApprovalLevelInline]
    list_display = ["priority", "name", "outcome", "is_active", "amount_above", "amount_at_most",
                    "credit_score_at_least", "credit_score_below", "made_to_order"]
    list_display_links = ["name"]
    list_filter = ["outcome", "is_active"]
    filter_horizontal = ["shops"]
    fieldsets = [
        (None, {"fields": ["name", "priority", "is_active", "outcome"]}),
        (_("Conditions (all given ones must hold)"), {"fields": [
            "amount_above", "amount_at_most", "credit_score_at_least", "credit_score_below", "made_to_order",
            "discount_rate_at_least", "shops"]}),
    ]


class ApprovalStepInline(admin.TabularInline):
    model = ApprovalStep
    extra = 0
    can_delete = False
    fields = ["position", "name", "mode", "state", "due_at", "completed_at", "escalation_count"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyModelAdmin):
    """Requests change only through the approval services (inbox page and API)."""

    inlines = [ApprovalStepInline]
    list_display = ["order", "state", "is_automatic", "requested_at", "completed_at"]
    list_filter = ["state", "is_automatic"]
    search_fields = ["order__external_id"]
    list_select_related = ["order"]
