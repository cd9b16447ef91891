"""The typed per-request context: the snapshot taken once, the caller's rights, the product
loader."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.requests import Request

from recograph.core.ids import new_request_id
from recograph.online.config import ServingConfig
from recograph.online.events import EventWriter
from recograph.online.state import Loaded, ServingState
from recograph.online.variants import Experiment
from recograph.resolvers.monitoring import Monitoring
from recograph.schema import convert
from recograph.schema import types as t
from recograph.schema.errors import Unavailable
from recograph.settings import Settings
from recograph.stores import DEFAULT_STORE


def is_admin(authorization: str | None, admin_token: str) -> bool:
    """A bearer token equal to the admin token (constant-time); never true without a token."""
    if not admin_token or not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), admin_token.encode())


@dataclass
class Services:
    """What lives as long as the app: settings, the model state, the log writer, the A/B
    experiment and the Prometheus metrics (none outside an app)."""

    settings: Settings
    config: ServingConfig
    state: ServingState
    events: EventWriter
    experiment: Experiment = field(default_factory=Experiment)
    monitoring: Monitoring | None = None
    store: str = DEFAULT_STORE  # the name every logged row carries (`recograph.stores`)


class ProductLoader:
    """Product views of one snapshot, by position, returned without suspending.

    The views are a dictionary look-up on the in-memory snapshot (`convert.products`), so
    there is nothing to batch: a strawberry ``DataLoader`` cost every request its futures and
    one extra turn of the event loop (≈ 1 ms in the profile of a 10-item recommendation) for
    no gain. The interface is the part of DataLoader the resolvers use."""

    def __init__(self, loaded: Loaded | None) -> None:
        self.loaded = loaded

    def _require(self) -> Loaded:
        if self.loaded is None:
            raise Unavailable("no model is loaded yet")
        return self.loaded

    async def load(self, position: int) -> t.Product:
        return convert.products(self._require(), (position,))[0]

    async def load_many(self, positions: Sequence[int]) -> list[t.Product]:
        return convert.products(self._require(), positions)


@dataclass
class RequestContext:
    """Strawberry's context for one request; the snapshot is fixed at creation."""

    services: Services
    loaded: Loaded | None
    admin: bool = False
    request: Request | None = None
    # looked up when called, so a test can make the ids predictable
    request_id: str = field(default_factory=lambda: new_request_id())  # noqa: PLW0108
    products: ProductLoader = field(init=False)

    def __post_init__(self) -> None:
        self.products = ProductLoader(self.loaded)

    def require(self) -> Loaded:
        """The snapshot of this request, or a clear error before the first build is loaded."""
        if self.loaded is None:
            raise Unavailable("no model is loaded yet; try again once /readyz reports ready")
        return self.loaded


def request_header(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case, as ASGI gives names), as
    ``request.headers.get`` finds it, without building the request's ``Headers``."""
    for key, value in request.scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def make_context(services: Services, request: Request | None = None) -> RequestContext:
    """The context of one request. The authorization header is read only when it could
    make the caller an admin (admin operations on, an admin token set)."""
    settings = services.settings
    admin = (
        settings.admin_operations
        and bool(settings.admin_token)
        and request is not None
        and is_admin(request_header(request, b"authorization"), settings.admin_token)
    )
    return RequestContext(
        services=services, loaded=services.state.current, admin=admin, request=request
    )
