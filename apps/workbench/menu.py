"""The home page's entries: each role sees the pages its permissions open. Later capabilities add
their pages here."""
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Entry:
    title: str
    description: str
    url: str


def menu_for(user) -> list[Entry]:
    entries = []
    if user.has_perm("approvals.view_approvalrequest"):
        entries.append(Entry(_("Approval inbox"), _("Orders waiting for your signature, with credit, history "
                                                    "and margin."), reverse("workbench:approval-inbox")))
    if user.has_perm("orders.pick_order"):
        entries.append(Entry(_("Picking waves"), _("Build a wave, then pick it with the scanner: every item "
                                                   "confirmed by its barcode."), reverse("workbench:wave-list")))
        entries.append(Entry(_("Orders on the floor"), _("Picking, picked, packed and shipped orders with wave, picker, "
                                                         "packer, batch, weight, carrier and label."),
                             reverse("workbench:warehouse-orders")))
    if user.has_perm("orders.serve_shop") or user.has_perm("orders.add_order"):
        entries.append(Entry(_("My orders"), _("Open orders of your shops: find one by phone tail, order number "
                                               "or tracking number."), reverse("workbench:cs-orders")))
    if user.has_perm("orders.view_finance"):
        entries.append(Entry(_("Finance"), _("Orders by payment state, refunds waiting, receivables by customer."),
                             reverse("workbench:finance-receivables")))
    if user.has_perm("orders.view_operations_board"):
        entries.append(Entry(_("Open holds"), _("Holds by type and age: what is stuck, and for how long."),
                             reverse("workbench:board-holds")))
        entries.append(Entry(_("Late orders"), _("Orders past their promised ship-by that have not left."),
                             reverse("workbench:board-late")))
    if user.has_perm("inventory.view_stockalert"):
        entries.append(Entry(_("Stock alerts"), _("Lots expired or about to expire, places below safety stock, and "
                                                  "replenishment requests with the quantity to order."),
                             reverse("workbench:stock-alerts")))
    if user.has_perm("returns.view_returnrequest"):
        entries.append(Entry(_("Returns"), _("Start and follow returns from the order; receive and inspect the "
                                             "goods that come back."), reverse("workbench:return-list")))
    if user.has_perm("imports.add_importjob"):
        entries.append(Entry(_("Import spreadsheets"), _("Move customers, products, opening stock and open "
                                                         "orders in from the old system's spreadsheets: check "
                                                         "first, then import."), reverse("workbench:import-list")))
    if user.is_staff:
        entries.append(Entry(_("Back office"), _("Configuration, orders, stock and rules."), reverse("admin:index")))
    entries.append(Entry(_("API"), _("The REST API and its documentation."), reverse("api-docs")))
    return entries
