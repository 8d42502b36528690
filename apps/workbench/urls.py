from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "workbench"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="workbench/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("manager/approvals/", views.approval_inbox, name="approval-inbox"),
    path("manager/approvals/<int:request_id>/", views.approval_detail, name="approval-detail"),
    path("manager/approvals/<int:request_id>/<str:act>/", views.approval_act, name="approval-act"),
]
