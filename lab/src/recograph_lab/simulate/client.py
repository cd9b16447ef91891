"""The shop as the simulated shoppers see it: the public GraphQL API, over HTTP or in process.

`GraphQLShop` wraps an ``httpx.AsyncClient``; `loopback_client` refuses any address that is
not this machine (the simulator generates load and writes events: it must never be pointed
at somebody else's server), `in_process_client` drives an ASGI app without a socket.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from recograph_lab.simulate.shoppers import Product

REQUEST_TIMEOUT_SECONDS = 30.0
PAGE_SIZE = 100

PRODUCTS = """query($after: String) {
  products(first: 100, after: $after, filter: {inStock: true}) {
    edges { node { id category brand price } } pageInfo { hasNextPage endCursor } } }"""
RECOMMEND = """query($c: Int, $s: String, $ctx: ContextInput, $limit: Int!) {
  recommendations(customerId: $c, sessionId: $s, context: $ctx, limit: $limit) {
    requestId variant strategy items { rank product { id } reason { kind } } } }"""
RECORD = "mutation($input: EventInput!) { recordEvent(input: $input) { accepted } }"


class ShopError(RuntimeError):
    """The API answered with errors, or not at all."""


@dataclass(frozen=True)
class ShownItem:
    product_id: int
    rank: int
    reason: str


@dataclass(frozen=True)
class Served:
    """One recommendations response, as much of it as a shopper uses."""

    request_id: str
    variant: str | None
    strategy: str
    items: tuple[ShownItem, ...]


def is_loopback(url: str) -> bool:
    """True for http(s) URLs on 127.0.0.0/8, ::1 or localhost."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def loopback_client(url: str) -> tuple[httpx.AsyncClient, str]:
    """A client for a server on this machine, and the GraphQL path; refuses other hosts."""
    if not is_loopback(url):
        raise ShopError(f"{url}: simulate only talks to a server on this machine (loopback)")
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    client = httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False)
    return client, parts.path or "/graphql"


def in_process_client(app: Any) -> httpx.AsyncClient:
    """A client that calls the ASGI ``app`` directly (tests, ``--in-process``)."""
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://simulation")


class GraphQLShop:
    """recommendations, recordEvent, the product list and a customer's purchases through
    GraphQL."""

    def __init__(self, client: httpx.AsyncClient, path: str = "/graphql") -> None:
        self.client = client
        self.path = path
        self.requests = 0

    async def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        try:
            response = await self.client.post(
                self.path, json={"query": query, "variables": variables}
            )
        except httpx.HTTPError as exc:
            raise ShopError(f"the server did not answer: {exc!r}") from None
        try:
            body = response.json()
        except ValueError:
            raise ShopError(f"HTTP {response.status_code}: not a GraphQL response") from None
        if body.get("errors"):
            raise ShopError(f"GraphQL error: {body['errors'][0].get('message')}")
        data: dict[str, Any] = body["data"]
        return data

    async def products(self) -> list[Product]:
        """Every product in stock (id, category, brand, price), page by page."""
        found: list[Product] = []
        after: str | None = None
        while True:
            page = (await self._call(PRODUCTS, {"after": after}))["products"]
            found.extend(
                Product(int(n["id"]), str(n["category"]), str(n["brand"]), float(n["price"]))
                for n in (edge["node"] for edge in page["edges"])
            )
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    async def recommend(
        self,
        customer_id: int | None,
        session_id: str,
        context: dict[str, Any],
        limit: int,
    ) -> Served:
        data = await self._call(
            RECOMMEND, {"c": customer_id, "s": session_id, "ctx": context, "limit": limit}
        )
        raw = data["recommendations"]
        return Served(
            request_id=str(raw["requestId"]),
            variant=raw["variant"],
            strategy=str(raw["strategy"]),
            items=tuple(
                ShownItem(int(i["product"]["id"]), int(i["rank"]), str(i["reason"]["kind"]))
                for i in raw["items"]
            ),
        )

    async def record(self, event: dict[str, Any]) -> bool:
        data = await self._call(RECORD, {"input": event})
        return bool(data["recordEvent"]["accepted"])
