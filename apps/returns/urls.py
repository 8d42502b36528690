from django.urls import path

from .api import (
    ReasonAnalyticsView,
    ReasonListView,
    ReasonSuggestionsView,
    ReturnDetailView,
    ReturnListView,
    ReturnStepView,
)

urlpatterns = [
    path("returns/", ReturnListView.as_view(), name="return-list"),
    path("returns/reasons/", ReasonListView.as_view(), name="return-reasons"),
    path("returns/suggestions/", ReasonSuggestionsView.as_view(), name="return-suggestions"),
    path("returns/analytics/", ReasonAnalyticsView.as_view(), name="return-analytics"),
    path("returns/<int:return_id>/", ReturnDetailView.as_view(), name="return-detail"),
    path("returns/<int:return_id>/<str:step>/", ReturnStepView.as_view(), name="return-step"),
]
