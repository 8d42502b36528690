import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyModelAdmin

from . import selectors
from .models import CountryProfile, Declaration, DeclarationLine


def _pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


@admin.register(CountryProfile)
class CountryProfileAdmin(ReadOnlyModelAdmin):
    """Reference data from fixtures/customs/ (a reload would overwrite an edit): shown, not edited."""

    list_display = ["code", "name_zh", "name_en", "currency", "languages", "de_minimis", "reviewed_on"]
    fields = ["code", "name_zh", "name_en", "currency", "description_languages", "header_requirements",
              "line_requirements", "de_minimis", "reviewed_on", "notes"]
    readonly_fields = fields

    @admin.display(description=_("description languages"))
    def languages(self, obj):
        return ", ".join(obj.description_languages) or "-"

    @admin.display(description=_("required header fields"))
    def header_requirements(self, obj):
        return _pretty_json(obj.header_fields)

    @admin.display(description=_("required line fields"))
    def line_requirements(self, obj):
        return _pretty_json(obj.line_fields)


class DeclarationLineInline(admin.TabularInline):
    model = DeclarationLine
    extra = 0
    can_delete = False
    fields = ["line_no", "sku", "hs_code", "name_zh", "name_en", "local_names", "quantity", "unit", "legal_unit",
              "legal_quantity", "net_weight_kg", "gross_weight_kg", "unit_value", "origin_country", "extras"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Declaration)
class DeclarationAdmin(ReadOnlyModelAdmin):
    """Declarations change only through apps.customs.services (which keep the customs hold in step);
    scoped like their orders."""

    inlines = [DeclarationLineInline]
    list_display = ["order", "profile", "currency", "incoterm", "is_complete", "updated_at"]
    list_filter = ["profile", "is_complete"]
    list_select_related = ["order", "profile"]
    search_fields = ["=order__external_id"]
    show_full_result_count = False
    fields = ["order", "profile", "currency", "incoterm", "is_complete", "exporter_name", "exporter_address",
              "exporter_phone", "exporter_tax_id", "consignee_name", "consignee_address", "consignee_phone",
              "consignee_tax_id", "created_at", "updated_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.declarations_visible_to(request.user).select_related("order", "profile")
