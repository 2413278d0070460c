"""The feed API (FastAPI): feeds, events, videos, discovery, analytics. Entry: ``create_app``."""
