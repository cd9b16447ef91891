"""``recordEvent`` and ``reloadArtifacts``."""

from __future__ import annotations

import logging
import math

import strawberry

from recograph.online.state import ReloadRefused
from recograph.resolvers.context import RequestContext
from recograph.schema import convert
from recograph.schema import types as t
from recograph.schema.enums import EventType
from recograph.schema.errors import BadInput, Forbidden, Unavailable
from recograph.schema.inputs import EventInput

logger = logging.getLogger(__name__)

Info = strawberry.Info[RequestContext, None]

MAX_QUANTITY = 10_000
MAX_TEXT = 64


def _check_event(event: EventInput) -> None:
    if not 1 <= event.quantity <= MAX_QUANTITY:
        raise BadInput(
            f"input.quantity must be between 1 and {MAX_QUANTITY}, got {event.quantity}",
            argument="input.quantity",
        )
    if event.price is not None and not (math.isfinite(event.price) and event.price >= 0):
        raise BadInput("input.price must be a non-negative number", argument="input.price")
    for name, value in (("sessionId", event.session_id), ("requestId", event.request_id)):
        if value is not None and len(value) > MAX_TEXT:
            raise BadInput(
                f"input.{name} is longer than {MAX_TEXT} characters", argument=f"input.{name}"
            )


async def record_event(info: Info, input: EventInput) -> t.EventReceipt:
    """Log a click, add-to-cart or purchase (by a customer, or an anonymous session); a
    customer's purchase counts for the very next request."""
    ctx = info.context
    loaded = ctx.require()
    _check_event(input)
    customer = input.customer_id
    if customer is None and not input.session_id:
        raise BadInput(
            "input.customerId or, for an anonymous visitor, input.sessionId is required",
            argument="input.customerId",
        )
    if customer is not None:
        # An id the build has not seen is a customer who signed up since: their purchases
        # count at once, like anyone's.
        convert.known_customer(loaded, customer, "input.customerId")
    convert.product_position(loaded, input.product_id, "input.productId")
    state = ctx.services.state
    if customer is None:
        live = 0
    elif input.type is EventType.PURCHASE:
        live = state.record_purchase(customer, input.product_id)
    else:
        live = len(state.live_purchases(customer))
    accepted = ctx.services.events.submit(
        "events",
        {
            "store": ctx.services.store,
            "type": input.type.value,
            "customer_id": input.customer_id,
            "session_id": input.session_id,
            "product_id": input.product_id,
            "request_id": input.request_id,
            "quantity": input.quantity,
            "price": input.price,
        },
    )
    return t.EventReceipt(
        accepted=accepted,
        type=input.type,
        customer_id=input.customer_id,
        product_id=input.product_id,
        live_purchases=live,
    )


async def reload_artifacts(info: Info) -> t.ReloadResult:
    """Load the build ``current`` points at and serve it (admin only)."""
    ctx = info.context
    if not ctx.services.settings.admin_operations:
        logger.warning("reloadArtifacts refused: admin operations are disabled")
        raise Forbidden("admin operations are disabled on this server")
    if not ctx.admin:
        client = None
        if ctx.request is not None and ctx.request.client is not None:
            client = ctx.request.client.host
        logger.warning("reloadArtifacts refused: no valid admin token (client %s)", client)
        raise Forbidden("reloadArtifacts needs the admin bearer token")
    try:
        outcome = await ctx.services.state.reload(reason="reloadArtifacts")
    except ReloadRefused as exc:
        raise Unavailable(f"build refused, still serving the previous one: {exc}") from None
    return t.ReloadResult(
        version=outcome.version,
        previous_version=outcome.previous_version,
        changed=outcome.changed,
        loaded_at=convert.timestamp(outcome.loaded_at),
    )
