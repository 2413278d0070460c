"""fyplake: the shared library of the For-You feed lake (config, catalog, key formats, CLI)."""

__version__ = "0.1.0"
