from django.contrib.auth import views as auth_views
from django.urls import path

from . import board, cs, finance, imports, returns, stock, views, warehouse

app_name = "workbench"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="workbench/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("manager/approvals/", views.approval_inbox, name="approval-inbox"),
    path("manager/approvals/<int:request_id>/", views.approval_detail, name="approval-detail"),
    path("manager/approvals/<int:request_id>/<str:act>/", views.approval_act, name="approval-act"),
    path("cs/orders/", cs.order_worklist, name="cs-orders"),
    path("cs/orders/<int:order_id>/", cs.order_detail, name="cs-order-detail"),
    path("cs/orders/<int:order_id>/history/", cs.order_history, name="cs-order-history"),
    path("cs/orders/<int:order_id>/buyer-orders/", cs.order_buyer_orders, name="cs-order-buyer-orders"),
    path("cs/orders/<int:order_id>/note/", cs.order_add_note, name="cs-order-note"),
    path("cs/orders/<int:order_id>/urgent/", cs.order_mark_urgent, name="cs-order-urgent"),
    path("cs/orders/<int:order_id>/intercept/", cs.order_intercept, name="cs-order-intercept"),
    path("finance/payments/", finance.payments, name="finance-payments"),
    path("finance/refunds/", finance.refunds, name="finance-refunds"),
    path("finance/receivables/", finance.receivable_list, name="finance-receivables"),
    path("finance/receivables/<int:customer_id>/", finance.receivable_detail, name="finance-receivable"),
    path("imports/", imports.import_list, name="import-list"),
    path("imports/<int:job_id>/", imports.import_detail, name="import-detail"),
    path("imports/<int:job_id>/confirm/", imports.import_confirm, name="import-confirm"),
    path("imports/<int:job_id>/errors.xlsx", imports.import_errors, name="import-errors"),
    path("imports/<int:job_id>/progress/", imports.import_progress, name="import-progress"),
    path("manager/holds/", board.holds, name="board-holds"),
    path("manager/late/", board.late_orders, name="board-late"),
    path("returns/", returns.return_list, name="return-list"),
    path("returns/<int:return_id>/", returns.return_detail, name="return-detail"),
    path("returns/<int:return_id>/photos/<int:photo_id>/", returns.return_photo, name="return-photo"),
    path("returns/<int:return_id>/<slug:step>/", returns.return_step, name="return-step"),
    path("orders/<int:order_id>/returns/", returns.order_returns, name="order-returns"),
    path("warehouse/orders/", warehouse.floor_orders, name="warehouse-orders"),
    path("warehouse/stock-alerts/", stock.stock_alerts, name="stock-alerts"),
    path("warehouse/waves/", warehouse.wave_list, name="wave-list"),
    path("warehouse/waves/build/", warehouse.wave_build, name="wave-build"),
    path("warehouse/waves/<int:wave_id>/", warehouse.wave_scan, name="wave-scan"),
    path("warehouse/waves/<int:wave_id>/scan/", warehouse.wave_scan_submit, name="wave-scan-submit"),
    path("warehouse/waves/<int:wave_id>/tasks/<int:task_id>/short/", warehouse.task_short, name="task-short"),
    path("warehouse/waves/<int:wave_id>/pdf/<slug:part>/", warehouse.wave_pdf, name="wave-pdf"),
    path("warehouse/orders/<int:order_id>/pdf/<slug:kind>/", warehouse.order_pdf, name="order-pdf"),
]
