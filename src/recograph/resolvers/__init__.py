"""Resolver functions: validate arguments, call pure code on the request's snapshot, convert."""
