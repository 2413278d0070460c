"""`fyp serve`: the feed API under uvicorn."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="Bind address (default: FYP_API_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: FYP_API_PORT, 8000).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes (each has its own pools; /metrics is per worker).",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(
    host: str | None, port: int | None, workers: int, log_level: str, access_log: bool
) -> None:
    """Run the feed API (OpenAPI docs at /docs, metrics at /metrics, the web feed at /web/)."""
    import importlib.util

    import uvicorn

    from cli._common import FypError
    from fyplake.config import REPO_ROOT, get_settings
    from infra.stack import Stack

    settings = get_settings()
    Stack(settings).endpoints()  # start the embedded services before the workers need them
    fast = importlib.util.find_spec("uvloop") is not None
    where = f"http://{host or settings.api_host}:{port or settings.api_port}"
    click.echo(f"feed API {where}/docs, web feed {where}/web/", err=True)
    try:
        uvicorn.run(
            "serving_api.app:create_app",
            factory=True,
            app_dir=str(REPO_ROOT),  # serving_api/ sits next to fyplake/ in the checkout
            host=host or settings.api_host,
            port=port or settings.api_port,
            workers=workers,
            log_level=log_level,
            access_log=access_log,
            loop="uvloop" if fast else "asyncio",
            http="httptools" if importlib.util.find_spec("httptools") else "h11",
        )
    except OSError as exc:
        where = f"{host or settings.api_host}:{port or settings.api_port}"
        raise FypError(f"cannot serve on {where}: {exc}") from None
