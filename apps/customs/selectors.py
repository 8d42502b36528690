"""Reads of declarations, scoped like their orders (apps.orders.selectors.orders_visible_to): whoever
may see an order may see its declaration; out of scope reads as "not found".

`declaration_totals` is the one place a declaration's value and weights are added up. The
commercial invoice, the export packing list and the declaration sheet all print from it, so their
totals agree by construction.
"""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Prefetch, QuerySet

from apps.core.money import ZERO, to_money
from apps.orders.models import HoldType, OrderHold
from apps.orders.selectors import orders_visible_to

from . import rules
from .errors import DeclarationNotFound
from .models import CountryProfile, Declaration, DeclarationLine

GRAM = Decimal("0.001")


def country_profiles() -> QuerySet[CountryProfile]:
    return CountryProfile.objects.order_by("code")


def declarations_visible_to(actor) -> QuerySet[Declaration]:
    return Declaration.objects.filter(order__in=orders_visible_to(actor).values("pk"))


def declaration_for_order(*, actor, order_id: int) -> Declaration:
    declaration = (
        declarations_visible_to(actor)
        .select_related("order", "profile")
        .prefetch_related(Prefetch("lines", queryset=DeclarationLine.objects.select_related("sku").order_by("line_no")))
        .filter(order_id=order_id)
        .first()
    )
    if declaration is None:
        raise DeclarationNotFound(details={"order_id": order_id})
    return declaration


def declaration_problems(declaration) -> list[rules.Problem]:
    """What the check would report now, without touching the order's holds."""
    return rules.evaluate(declaration, list(declaration.lines.all()), declaration.profile)


def open_customs_hold(order_id: int) -> OrderHold | None:
    return OrderHold.objects.filter(order_id=order_id, type=HoldType.CUSTOMS_INCOMPLETE,
                                    released_at__isnull=True).first()


@dataclass(frozen=True)
class LineFigures:
    line_no: int
    quantity: int
    unit_value: Decimal
    amount: Decimal
    net_weight_kg: Decimal | None
    gross_weight_kg: Decimal | None


@dataclass(frozen=True)
class DeclarationTotals:
    currency: str
    lines: tuple[LineFigures, ...]
    quantity: int
    value: Decimal
    net_weight_kg: Decimal
    gross_weight_kg: Decimal
    weights_complete: bool


def line_amount(line) -> Decimal:
    """A line's value in cents: unit value (4 places) × quantity, rounded once."""
    return to_money(line.unit_value * line.quantity)


def declaration_totals(declaration, lines=None) -> DeclarationTotals:
    """The declaration's figures: each line's amount rounded to cents first, so the printed line
    amounts add up to the printed total exactly; weights in kilograms to 3 places. Lines whose
    weight is not known yet count as nothing and `weights_complete` is False (the check reports them)."""
    lines = sorted(declaration.lines.all() if lines is None else lines, key=lambda line: line.line_no)
    figures = tuple(
        LineFigures(line_no=line.line_no, quantity=line.quantity, unit_value=line.unit_value,
                    amount=line_amount(line), net_weight_kg=line.net_weight_kg, gross_weight_kg=line.gross_weight_kg)
        for line in lines
    )

    def kilograms(values) -> Decimal:
        return sum((Decimal(v) for v in values if v is not None), Decimal(0)).quantize(GRAM, rounding=ROUND_HALF_UP)

    return DeclarationTotals(
        currency=declaration.currency,
        lines=figures,
        quantity=sum(f.quantity for f in figures),
        value=sum((f.amount for f in figures), ZERO),
        net_weight_kg=kilograms(f.net_weight_kg for f in figures),
        gross_weight_kg=kilograms(f.gross_weight_kg for f in figures),
        weights_complete=all(f.net_weight_kg is not None and f.gross_weight_kg is not None for f in figures),
    )
