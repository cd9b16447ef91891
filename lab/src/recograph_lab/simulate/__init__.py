"""Synthetic shoppers replayed through the GraphQL API, so the online loop can be tested."""
