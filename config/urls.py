from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = _("Order hub")
admin.site.site_title = _("Order hub")
admin.site.index_title = _("Back office")

urlpatterns = [
    path("", include("apps.workbench.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Session login for the browsable API: every role can use it before the workbenches exist.
    path("api/auth/", include("rest_framework.urls")),
    path("api/v1/", include("apps.orders.urls")),
    path("api/v1/", include("apps.inventory.urls")),
    path("api/v1/", include("apps.approvals.urls")),
    path("api/v1/", include("apps.fulfillment.urls")),
    path("api/v1/", include("apps.customs.urls")),
    path("api/v1/", include("apps.returns.urls")),
]
