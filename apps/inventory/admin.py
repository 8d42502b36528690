from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(GuardedModelAdmin):
    list_display = ["code", "name", "province", "city", "is_active"]
    search_fields = ["code", "name"]
