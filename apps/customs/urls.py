from django.urls import path

from .api import CountryProfileListView, DeclarationCheckView, DeclarationPrepareView, DeclarationView

urlpatterns = [
    path("orders/<int:order_id>/declaration/", DeclarationView.as_view(), name="order-declaration"),
    path("orders/<int:order_id>/declaration/prepare/", DeclarationPrepareView.as_view(),
         name="order-declaration-prepare"),
    path("orders/<int:order_id>/declaration/check/", DeclarationCheckView.as_view(), name="order-declaration-check"),
    path("customs/countries/", CountryProfileListView.as_view(), name="customs-countries"),
]
