import django_filters
from django.utils.translation import gettext_lazy as _

from django.utils import timezone

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
