"""The web feed page (``/web/``, a static page and one JavaScript module) and, for a local media
store, the media files themselves (``/media/<key>``).

Media keys under ``videos/`` are content-addressed (``fyplake.media.store``): answered with
``Cache-Control: public, max-age=31536000, immutable``, so a browser (or a CDN in front) fetches
each segment once. ``originals/`` is private and never served. With S3 media or an absolute
``FYP_MEDIA_PUBLIC_URL`` (a CDN) the page is handed those URLs and this route is not used. The
page's vendored player (``static/vendor/hls.min.js``) is fetched by ``infra/bootstrap.sh``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from fyplake.media.store import cache_control_for, content_type_for
from serving_api.deps import ServicesDep
from serving_api.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGE_PATH = "/web"

router = APIRouter(include_in_schema=False)


def media_path(root: Path, key: str) -> Path | None:
    """The file of a public media key under ``root``, or None (a private, odd or missing key)."""
    parts = key.split("/")
    if not key or key.startswith("originals/") or any(p in ("", ".", "..") for p in parts):
        return None
    path = root.joinpath(*parts)
    return path if path.is_file() else None


@router.get("/media/{key:path}")
async def media(key: str, services: ServicesDep) -> FileResponse:
    settings = services.settings
    if not settings.media_is_local:
        raise ApiError(404, "not_found", "media are served by the object store's public URL")
    path = media_path(Path(settings.media).expanduser().resolve(), key)
    if path is None:
        raise ApiError(404, "not_found", "no such media object")
    return FileResponse(
        path,
        media_type=content_type_for(key),
        headers={"Cache-Control": cache_control_for(key), "Access-Control-Allow-Origin": "*"},
    )


@router.get("/")
async def index() -> RedirectResponse:
    return RedirectResponse(f"{PAGE_PATH}/", status_code=307)


def mount_page(app: FastAPI) -> None:
    """``/web/``: the page, its module and the vendored hls.js (revalidated by ETag)."""
    app.mount(PAGE_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="web")
