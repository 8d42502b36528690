from django.contrib import admin

from .models import SKU, Category


@admin.register(SKU)
class SKUAdmin(admin.ModelAdmin):
    list_display = ["code", "barcode", "name_zh", "name_en", "unit", "weight_grams", "shelf_life_days",
                    "batch_tracked", "is_active"]
    list_filter = ["category", "batch_tracked", "is_active", "origin_country"]
    search_fields = ["code", "barcode", "name_zh", "name_en"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en"]
    search_fields = ["code", "name_zh", "name_en"]
