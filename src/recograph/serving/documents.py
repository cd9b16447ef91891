"""The HTTP side of known documents: automatic persisted queries and the compiled fast path.

A GraphQL request over GET or POST (JSON) whose document compiles (`recograph.schema.compiled`)
is answered here without strawberry's HTTP view and extension pipeline; anything else (a batch,
a multipart upload, a document that does not parse or validate, GraphiQL) is left to the general
path, which answers exactly as before.

Automatic persisted queries follow Apollo's convention, which clients already send:
``extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}``. A hash this server does
not know, sent without the query, is answered with a ``PERSISTED_QUERY_NOT_FOUND`` error; the
client then sends the hash with the query, which is checked against the hash, compiled and
remembered (per process, bounded), so later requests may send the hash alone.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import OperationType
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from recograph.resolvers.context import Services, make_context
from recograph.schema.compiled import (
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_NOT_SUPPORTED,
    CompiledDocument,
    KnownDocuments,
    document_hash,
)
from recograph.schema.operation import STATE_KEY, OperationLabel

VERSION_HEADER = "x-recograph-model-version"
VERSION_HEADER_BYTES = VERSION_HEADER.encode("latin-1")
JSON = "application/json"
JSON_BYTES = JSON.encode()


def error_response(status: int, message: str, code: str) -> Response:
    """One GraphQL-shaped error (the format of every refusal of this server)."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status, media_type=JSON)


class _NotJSON(Exception):
    pass


def _json_param(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _NotJSON from None


# The members a single operation may carry, and the types each may have (None: absent).
_MEMBER_TYPES = (
    ("query", (str, type(None))),
    ("operationName", (str, type(None))),
    ("variables", (dict, type(None))),
    ("extensions", (dict, type(None))),
)


async def read_body(receive: Receive) -> bytes:
    """The request body, as Starlette's ``Request.body`` reads it from the ASGI messages (a
    disconnect raises its ``ClientDisconnect``), without its stream generator and the
    ``aclosing`` around it: a storefront body arrives in one message."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            body: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                if not chunks:
                    return bytes(body)
                chunks.append(body)
                return b"".join(chunks)
            chunks.append(body)
        elif kind == "http.disconnect":
            raise ClientDisconnect


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` that first gives ``body`` (read already by `read_body`) as one message,
    for the general path's own reading of the request."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def wants_body(scope: Scope) -> bool:
    """A JSON POST: the compiled path reads its body (`read_body`); any other request's body
    is left to the general path."""
    return scope["method"] == "POST" and JSON_BYTES in _content_type(scope)


def _content_type(scope: Scope) -> bytes:
    """The request's first Content-Type header, undecoded (what ``request.headers`` would
    find, without building the headers object)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value)
    return b""


def request_payload(request: Request, body: bytes | None) -> dict[str, Any] | None:
    """The single operation a GET or JSON POST carries, or None for anything the general path
    must judge (batches, other content types, malformed JSON, wrong member types). ``body``:
    a JSON POST's, read by the caller (`wants_body`, `read_body`); None for any other
    request."""
    try:
        if request.method == "POST":
            if body is None:  # not JSON
                return None
            payload: Any = orjson.loads(body)
        elif request.method == "GET":
            params = request.query_params
            payload = {
                "query": params.get("query"),
                "operationName": params.get("operationName"),
                "variables": _json_param(params.get("variables")),
                "extensions": _json_param(params.get("extensions")),
            }
        else:
            return None
    except (_NotJSON, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    for key, kinds in _MEMBER_TYPES:
        if not isinstance(payload.get(key), kinds):
            return None
    return payload


class DocumentEndpoint:
    """Answers requests whose document is known (compiled); None means "general path"."""

    def __init__(self, documents: KnownDocuments, services: Services) -> None:
        self.documents = documents
        self.services = services

    async def handle(self, request: Request, body: bytes | None) -> Response | None:
        """The answer, or None for the general path; ``body``: a JSON POST's, read already
        by the caller (`wants_body`, `read_body`), who then gives the general path a request
        that reads it again (`replaying`); None for any other request."""
        payload = request_payload(request, body)
        if payload is None:
            return None
        query: str | None = payload.get("query")
        extensions: dict[str, Any] | None = payload.get("extensions")
        persisted = None if extensions is None else extensions.get("persistedQuery")
        sha256: str | None = None
        if persisted is not None:
            if not isinstance(persisted, dict) or persisted.get("version") != 1:
                return error_response(
                    400, "Unsupported persisted query version", PERSISTED_QUERY_NOT_SUPPORTED
                )
            sha256 = persisted.get("sha256Hash")
            if not isinstance(sha256, str):
                return error_response(400, "persistedQuery needs a sha256Hash", "BAD_REQUEST")
            if query is None:
                query = self.documents.persisted(sha256)
                if query is None:
                    return error_response(200, "PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
            elif document_hash(query) != sha256:
                return error_response(400, "provided sha does not match query", "BAD_REQUEST")
        if query is None:
            return None  # no document: GraphiQL or the general path's "no query" error
        compiled = self.documents.get(query, payload.get("operationName"))
        if compiled is None or not _allowed(compiled, request.method):
            if sha256 is not None and payload.get("query") is None:
                return error_response(
                    400, "the persisted document cannot run as this request", "BAD_REQUEST"
                )
            return None
        if sha256 is not None:
            self.documents.register(sha256, query)
        return await self.run(request, compiled, payload)

    async def run(
        self, request: Request, compiled: CompiledDocument, payload: dict[str, Any]
    ) -> Response:
        context = make_context(self.services, request)
        body, errors = await self.documents.execute(
            compiled, payload.get("variables"), context, payload.get("extensions")
        )
        operation, kind = compiled.label
        # what ``setattr(request.state, ...)`` stores, without making the state object
        request.scope.setdefault("state", {})[STATE_KEY] = OperationLabel(
            operation, kind, bool(errors)
        )
        response = Response(orjson.dumps(body), 200, media_type=JSON)
        if context.loaded is not None:
            # what ``response.headers[VERSION_HEADER] = ...`` appends (the response has no
            # such header yet), without making the headers object
            response.raw_headers.append(
                (VERSION_HEADER_BYTES, context.loaded.version.encode("latin-1"))
            )
        return response


def _allowed(compiled: CompiledDocument, method: str) -> bool:
    """Mutations only over POST (the general path refuses them over GET with a 400)."""
    return compiled.operation_type is OperationType.QUERY or method == "POST"
