"""The typed per-request context: the snapshot taken once, the caller's rights, DataLoaders."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from strawberry.dataloader import DataLoader

from recograph.online.variants import Experiment
from recograph.resolvers import convert
from recograph.schema import types as t
from recograph.schema.errors import Unavailable
from recograph.serving.config import ServingConfig
from recograph.serving.events import EventWriter
from recograph.serving.monitoring import Monitoring
from recograph.serving.state import Loaded, ServingState
from recograph.settings import Settings


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


@dataclass
class RequestContext:
    """Strawberry's context for one request; the snapshot is fixed at creation."""

    services: Services
    loaded: Loaded | None
    admin: bool = False
    request: Request | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    products: DataLoader[int, t.Product] = field(init=False)

    def __post_init__(self) -> None:
        loaded = self.loaded

        async def load(positions: Sequence[int]) -> list[t.Product]:
            if loaded is None:
                raise Unavailable("no model is loaded yet")
            return convert.products(loaded, positions)

        self.products = DataLoader(load_fn=load)

    def require(self) -> Loaded:
        """The snapshot of this request, or a clear error before the first build is loaded."""
        if self.loaded is None:
            raise Unavailable("no model is loaded yet; try again once /readyz reports ready")
        return self.loaded


def make_context(services: Services, request: Request | None = None) -> RequestContext:
    authorization = None if request is None else request.headers.get("authorization")
    settings = services.settings
    return RequestContext(
        services=services,
        loaded=services.state.current,
        admin=settings.admin_operations and is_admin(authorization, settings.admin_token),
        request=request,
    )
