"""The playground web UI: six explorers over the public GraphQL API, served at ``/``."""

from recograph.playground.routes import playground_routes

__all__ = ["playground_routes"]
