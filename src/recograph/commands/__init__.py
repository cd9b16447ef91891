"""Command modules of the ``recograph`` CLI: one ``register(subparsers)`` per module."""
