from django.contrib import admin

from apps.core.admin import ReadOnlyModelAdmin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyModelAdmin):
    """Imports are made on the workbench's import page (check, then confirm); here they are read."""

    list_display = ["created_at", "filename", "kind", "status", "rows", "new", "updated", "unchanged", "error_rows",
                    "created_by"]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]
