from datetime import datetime, timezone as dt_timezone

import django_filters
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.filters import OrderingFilter

from .models import PRE_SHIPMENT_STATUSES, Order, OrderStatus
from .normalisation import urgency_bounds


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, label=_("status"))
    shop = django_filters.CharFilter(field_name="shop__code", label=_("shop code"))
    customer = django_filters.CharFilter(field_name="customer__code", label=_("customer code"))
    placed_after = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="gte", label=_("placed from"))
    placed_before = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="lt", label=_("placed before"))
    number = django_filters.CharFilter(field_name="external_id", lookup_expr="startswith", label=_("order number"))
    phone_tail = django_filters.CharFilter(method="filter_phone_tail", label=_("phone last four digits"))
    tag = django_filters.CharFilter(field_name="tags__tag", label=_("tag"))
    urgency = django_filters.ChoiceFilter(
        choices=[("red", _("Red")), ("amber", _("Amber")), ("green", _("Green"))], method="filter_urgency",
        label=_("urgency"))

    class Meta:
        model = Order
        fields = ["status", "shop", "customer", "placed_after", "placed_before", "number", "phone_tail", "tag",
                  "urgency"]

    def filter_urgency(self, queryset, name, value):
        return queryset.filter(status__in=PRE_SHIPMENT_STATUSES, **urgency_bounds(value, timezone.now()))

    def filter_phone_tail(self, queryset, name, value):
        digits = "".join(ch for ch in value if ch.isdigit())[-4:]
        return queryset.filter(phone_tail=digits) if len(digits) == 4 else queryset.none()


# Where orders without a promised ship-by sort: after every dated one, in either direction.
_NO_SHIP_BY = {"asc": datetime(9999, 12, 31, tzinfo=dt_timezone.utc), "desc": datetime(1, 1, 2, tzinfo=dt_timezone.utc)}


class OrderOrdering(OrderingFilter):
    """`?ordering=` placed_at or promised_ship_by, either direction (one key). The cursor pages on
    the first key alone, so that key is never null (a missing ship-by sorts last) and the id breaks
    ties, which keeps every order on exactly one page."""

    def get_ordering(self, request, queryset, view):
        first = super().get_ordering(request, queryset, view)[0]
        descending = first.startswith("-")
        name = "ship_by_key" if first.lstrip("-") == "promised_ship_by" else first.lstrip("-")
        return ["-" + name, "-id"] if descending else [name, "id"]

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering[0].lstrip("-") == "ship_by_key":
            missing = _NO_SHIP_BY["desc" if ordering[0].startswith("-") else "asc"]
            queryset = queryset.annotate(ship_by_key=Coalesce("promised_ship_by", Value(missing),
                                                              output_field=DateTimeField()))
        return queryset.order_by(*ordering)
