"""Customs API: an order's declaration (read, prepare, update, check) and the country profiles.

A declaration is visible to whoever may see its order (apps.orders.selectors.orders_visible_to);
out of scope is 404. Consignee name, phone, address and tax number are masked for roles without
orders.view_personal_data, as on the order itself.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import MethodPermission
from apps.core.privacy import mask_detail, mask_name, mask_phone
from apps.orders.api import ERROR
from apps.orders.errors import OrderNotFound
from apps.orders.selectors import can_view_personal_data, orders_visible_to

from . import selectors, services
from .models import KILOGRAMS, CountryProfile, Declaration, DeclarationLine, Incoterm


def mask_tax_id(value: str) -> str:
    return value if len(value) <= 4 else "*" * (len(value) - 4) + value[-4:]


# --- output -------------------------------------------------------------------------------------

class CountryProfileOut(serializers.ModelSerializer):
    class Meta:
        model = CountryProfile
        fields = ["code", "name_zh", "name_en", "currency", "description_languages", "header_fields",
                  "line_fields", "de_minimis", "reviewed_on", "notes"]


class DeclarationPartyOut(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField()
    phone = serializers.CharField()
    tax_id = serializers.CharField()


class DeclarationLineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    currency = serializers.CharField(source="declaration.currency",
                                     help_text=_("The declaration's currency; every line has the same."))
    amount = serializers.SerializerMethodField(help_text=_("Unit value × quantity, rounded to cents"))

    class Meta:
        model = DeclarationLine
        fields = ["line_no", "sku", "hs_code", "name_zh", "name_en", "local_names", "quantity", "unit",
                  "legal_unit", "legal_quantity", "net_weight_kg", "gross_weight_kg", "unit_value", "currency",
                  "amount", "origin_country", "extras"]

    @extend_schema_field(serializers.DecimalField(max_digits=16, decimal_places=2))
    def get_amount(self, line) -> str:
        return str(selectors.line_amount(line))


class DeclarationTotalsOut(serializers.Serializer):
    currency = serializers.CharField()
    quantity = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=16, decimal_places=2)
    net_weight_kg = serializers.DecimalField(max_digits=14, decimal_places=3)
    gross_weight_kg = serializers.DecimalField(max_digits=14, decimal_places=3)
    weights_complete = serializers.BooleanField()


class DeclarationProblemOut(serializers.Serializer):
    code = serializers.CharField()
    field = serializers.CharField()
    line_no = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    details = serializers.DictField()


class CustomsHoldOut(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField()
    owner_role = serializers.CharField()
    is_automatic = serializers.BooleanField()
    opened_at = serializers.DateTimeField()


class DeclarationOrderRef(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()


class DeclarationOut(serializers.ModelSerializer):
    order = DeclarationOrderRef()
    country = CountryProfileOut(source="profile")
    exporter = serializers.SerializerMethodField()
    consignee = serializers.SerializerMethodField()
    lines = DeclarationLineOut(many=True)
    totals = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField(help_text=_("What the check finds now; empty when complete"))
    hold = serializers.SerializerMethodField(help_text=_("The order's open customs hold, if any"))

    class Meta:
        model = Declaration
        fields = ["id", "order", "country", "currency", "incoterm", "exporter", "consignee", "is_complete",
                  "lines", "totals", "problems", "hold", "created_at", "updated_at"]

    @extend_schema_field(DeclarationPartyOut)
    def get_exporter(self, declaration) -> dict:
        return {"name": declaration.exporter_name, "address": declaration.exporter_address,
                "phone": declaration.exporter_phone, "tax_id": declaration.exporter_tax_id}

    @extend_schema_field(DeclarationPartyOut)
    def get_consignee(self, declaration) -> dict:
        party = {"name": declaration.consignee_name, "address": declaration.consignee_address,
                 "phone": declaration.consignee_phone, "tax_id": declaration.consignee_tax_id}
        if self.context.get("personal_data_visible"):
            return party
        return {"name": mask_name(party["name"]), "address": mask_detail(party["address"]),
                "phone": mask_phone(party["phone"]), "tax_id": mask_tax_id(party["tax_id"])}

    @extend_schema_field(DeclarationTotalsOut)
    def get_totals(self, declaration) -> dict:
        return DeclarationTotalsOut(selectors.declaration_totals(declaration)).data

    @extend_schema_field(DeclarationProblemOut(many=True))
    def get_problems(self, declaration) -> list:
        return [problem.as_dict() for problem in selectors.declaration_problems(declaration)]

    @extend_schema_field(CustomsHoldOut(allow_null=True))
    def get_hold(self, declaration) -> dict | None:
        hold = selectors.open_customs_hold(declaration.order_id)
        return CustomsHoldOut(hold).data if hold else None


# --- input --------------------------------------------------------------------------------------

class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know: a misspelt field in a PATCH must not be dropped silently."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: [serializers.ErrorDetail(
                    _("Unknown field."), code="unknown_field")] for key in unknown})
        return super().to_internal_value(data)


class DeclarationPrepareIn(StrictSerializer):
    country = serializers.CharField(max_length=2, help_text=_("Destination country, ISO 3166 alpha-2 (TH)"))


def _text(max_length, **kwargs):
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, **kwargs)


class DeclarationLineIn(StrictSerializer):
    line_no = serializers.IntegerField(min_value=1)
    hs_code = _text(20, help_text=_("10 digits; dots and spaces are dropped"))
    name_zh = _text(200)
    name_en = _text(200)
    local_names = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True, allow_null=True), required=False,
        help_text=_("Language code → name; merged, a blank value removes the language"))
    quantity = serializers.IntegerField(required=False)
    unit = _text(16)
    legal_unit = _text(16)
    legal_quantity = serializers.DecimalField(max_digits=14, decimal_places=3, required=False, allow_null=True)
    net_weight_kg = serializers.DecimalField(required=False, allow_null=True, **KILOGRAMS)
    gross_weight_kg = serializers.DecimalField(required=False, allow_null=True, **KILOGRAMS)
    unit_value = serializers.DecimalField(max_digits=16, decimal_places=4, required=False)
    origin_country = _text(2)
    extras = serializers.DictField(
        child=serializers.CharField(max_length=64, allow_blank=True, allow_null=True), required=False,
        help_text=_("Country-specific fields (tisi_number …); merged, a blank value removes one"))


class DeclarationUpdateIn(StrictSerializer):
    country = serializers.CharField(max_length=2, required=False)
    incoterm = serializers.ChoiceField(choices=Incoterm.choices, required=False, allow_blank=True)
    exporter_name = _text(128)
    exporter_address = _text(255)
    exporter_phone = _text(32)
    exporter_tax_id = _text(32)
    consignee_name = _text(128)
    consignee_address = _text(255)
    consignee_phone = _text(32)
    consignee_tax_id = _text(32)
    lines = serializers.ListField(child=DeclarationLineIn(), required=False, max_length=500)


# --- views --------------------------------------------------------------------------------------

class DeclarationMixin:
    permission_classes = [permissions.IsAuthenticated, MethodPermission]

    def render(self, order_id, *, status_code=status.HTTP_200_OK):
        declaration = selectors.declaration_for_order(actor=self.request.user, order_id=order_id)
        context = {"personal_data_visible": can_view_personal_data(self.request.user)}
        return Response(DeclarationOut(declaration, context=context).data, status=status_code)

    def visible_declaration_id(self, order_id) -> int:
        return selectors.declaration_for_order(actor=self.request.user, order_id=order_id).pk


class DeclarationView(DeclarationMixin, APIView):
    required = {"GET": "customs.view_declaration", "PATCH": "customs.change_declaration"}

    @extend_schema(responses={200: DeclarationOut, 403: ERROR, 404: ERROR})
    def get(self, request, order_id):
        return self.render(order_id)

    @extend_schema(request=DeclarationUpdateIn,
                   responses={200: DeclarationOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    def patch(self, request, order_id):
        declaration_id = self.visible_declaration_id(order_id)
        payload = DeclarationUpdateIn(data=request.data)
        payload.is_valid(raise_exception=True)
        services.declaration_update(declaration_id=declaration_id, changes=payload.validated_data, actor=request.user)
        return self.render(order_id)


class DeclarationPrepareView(DeclarationMixin, APIView):
    required = {"POST": "customs.add_declaration"}

    @extend_schema(
        request=DeclarationPrepareIn,
        responses={201: DeclarationOut, 200: OpenApiResponse(DeclarationOut, description=_("Prepared before")),
                   400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request, order_id):
        if not orders_visible_to(request.user).filter(pk=order_id).exists():
            raise OrderNotFound(details={"order_id": order_id})
        payload = DeclarationPrepareIn(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.declaration_prepare(order_id=order_id, country=payload.validated_data["country"],
                                              actor=request.user)
        return self.render(order_id, status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class DeclarationCheckView(DeclarationMixin, APIView):
    """Check the declaration again and bring the order's customs hold in line (e.g. after the
    country profiles were reloaded). Anyone who may read the declaration may ask: the outcome
    depends only on its data."""

    required = {"POST": "customs.view_declaration"}

    @extend_schema(request=None, responses={200: DeclarationOut, 403: ERROR, 404: ERROR})
    def post(self, request, order_id):
        self.visible_declaration_id(order_id)
        services.declaration_check(order_id=order_id)
        return self.render(order_id)


class CountryProfileListView(ListAPIView):
    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    required = {"GET": "customs.view_countryprofile"}
    serializer_class = CountryProfileOut
    pagination_class = None

    def get_queryset(self):
        return selectors.country_profiles()
