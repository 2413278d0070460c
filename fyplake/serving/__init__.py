"""Serving: publishing feeds, lists and embeddings; reading feeds; events; counters.

Shared by the API (``serving_api``), the CLI and the publishing jobs."""
