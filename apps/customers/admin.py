from django.contrib import admin

from .models import Address, Customer


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "tier", "credit_limit", "payment_terms_days", "credit_score",
                    "is_blacklisted"]
    list_filter = ["kind", "tier", "is_blacklisted"]
    search_fields = ["code", "name", "phone"]
    inlines = [AddressInline]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["customer", "receiver", "province", "city", "district", "is_default"]
    list_select_related = ["customer"]
    search_fields = ["customer__code", "receiver"]
    raw_id_fields = ["customer"]
