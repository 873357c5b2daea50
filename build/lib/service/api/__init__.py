"""The HTTP routes, one module per resource in API.md."""
