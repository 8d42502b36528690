from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TrackingEvent(models.Model):
    """One scan a carrier reported through the tracking webhook (apps.fulfillment.services.tracking).

    Stored whether or not it moved the order, so the parcel's history is complete even when scans
    arrive late or out of order. (carrier, event_id) is unique: a carrier redelivering a webhook
    finds its event already here and changes nothing. `outcome` is what ingesting the event did,
    kept so a redelivery gets the very same answer."""

    shipment = models.ForeignKey("fulfillment.Shipment", verbose_name=_("shipment"), on_delete=models.PROTECT,
                                 related_name="tracking_events")
    carrier = models.ForeignKey("fulfillment.Carrier", verbose_name=_("carrier"), on_delete=models.PROTECT,
                                related_name="+")
    event_id = models.CharField(_("carrier's event id"), max_length=64)
    code = models.CharField(_("scan code"), max_length=32)
    transition = models.CharField(_("meaning"), max_length=32, blank=True,
                                  help_text=_("The order transition the scan code stands for; empty if none."))
    occurred_at = models.DateTimeField(_("occurred at"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    raw = models.JSONField(_("webhook body"), encoder=DjangoJSONEncoder)
    outcome = models.JSONField(_("outcome"), default=dict, encoder=DjangoJSONEncoder)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["shipment", "occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "event_id"], name="trackingevent_unique_per_carrier"),
        ]
        indexes = [
            # The stall check asks "any event for this shipment since T?".
            models.Index(fields=["shipment", "occurred_at"], name="trackingevent_shipment_time"),
        ]

    def __str__(self):
        return f"{self.carrier_id}:{self.event_id} {self.code}"
