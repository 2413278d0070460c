"""POST /v1/sessions: a viewer session for the web feed page (see ``serving_api.session``).

Open, like reads: there are no user accounts, so a session proves nothing about who is at the
keyboard; what it bounds is the damage of a token in a page: one user's events, for an hour,
never the admin key. A new viewer (``new_user``) gets a random id in the platform's range
(``fyplake.ids``: no producer outside the platform uses it; 9*10^15 ids make a clash
negligible without a shared counter) and a ``users`` landing record with the demographics, so
the lake knows the user by the time their events arrive and the cold-start feed can use them.
"""

from __future__ import annotations

import datetime as dt
import secrets

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from fyplake.ids import PLATFORM_ID_BASE
from fyplake.landing import iso_utc
from serving_api import session as sessions
from serving_api.deps import ServicesDep
from serving_api.errors import INVALID, UNPARSABLE, ApiError
from serving_api.models import ErrorOut, NewUserIn, SessionIn, SessionOut

router = APIRouter(prefix="/v1", tags=["sessions"], responses=INVALID)

USER_ID_END = 2**53


def new_user_id() -> int:
    return PLATFORM_ID_BASE + secrets.randbelow(USER_ID_END - PLATFORM_ID_BASE)


def land_user(user_id: int, who: NewUserIn, settings) -> None:  # noqa: ANN001 - Settings
    """The new viewer's ``users`` landing record (blocking: run it in a thread)."""
    from fyplake.landing import landing_root, write_records

    now = iso_utc(dt.datetime.now(dt.UTC))
    record = {
        "user_id": user_id,
        "age_band": who.age_band,
        "country": who.country,
        "language": who.language,
        "signup_time": now,
        "is_creator": False,
        "source": "api",
    }
    write_records(landing_root(settings), "users", [record], producer="api", settings=settings)


@router.post(
    "/sessions",
    response_model=SessionOut,
    responses={
        **UNPARSABLE,
        503: {"model": ErrorOut, "description": "The new user could not be landed"},
    },
    summary="A viewer session: may post one user's events for an hour",
)
async def create_session(body: SessionIn, services: ServicesDep) -> SessionOut:
    """A token for ``POST /v1/events`` (``Authorization: Bearer``) that accepts events of
    ``user_id`` only and expires after an hour; ``new_user`` creates a viewer first (a fresh id,
    its demographics landed as a ``users`` record)."""
    user_id = body.user_id
    if body.new_user is not None:
        user_id = new_user_id()
        try:
            await run_in_threadpool(land_user, user_id, body.new_user, services.settings)
        except (OSError, NotImplementedError) as exc:
            raise ApiError(503, "landing_unavailable", "the new user could not be stored") from exc
    assert user_id is not None
    found = sessions.issue(user_id)
    return SessionOut(
        user_id=user_id,
        token=sessions.encode(services.settings.api_key, found),
        expires_at=dt.datetime.fromtimestamp(found.expires_at, dt.UTC),
        new_user=body.new_user is not None,
    )
