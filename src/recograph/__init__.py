"""recograph: a product-recommendation engine for online stores, served as a GraphQL API."""

__version__ = "0.1.0"
