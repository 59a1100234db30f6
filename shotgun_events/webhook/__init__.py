"""The doorbell's signed ingress: FPT webhook deliveries in, one ring per delivery out."""

from shotgun_events.webhook.delivery import Delivery, MalformedDelivery, parse_delivery
from shotgun_events.webhook.ingress import Ingress, WebhookRequest, WebhookResponse
from shotgun_events.webhook.runtime import WebhookFunction
from shotgun_events.webhook.signature import is_signed, sign

__all__ = [
    "Delivery",
    "Ingress",
    "MalformedDelivery",
    "WebhookFunction",
    "WebhookRequest",
    "WebhookResponse",
    "is_signed",
    "parse_delivery",
    "sign",
]
