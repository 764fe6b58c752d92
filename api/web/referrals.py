"""The practitioner's referrals on the web page: "Refer" beside each suggestion
(``POST /suggestions/{request_id}/referrals``), and a page of their open referrals
(``GET /referrals``) where each can be moved on (``POST /referrals/{id}``). The same store
functions as ``/v1/referrals``: only the key that made a request refers from it and sees it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.web.pages import expired_form, forbidden_or_sign_in, over_rate_limit, with_session
from api.web.render import redirect, render
from api.web.session import CSRF_FIELD, WebSession, csrf_ok
from vcsmatch.errors import DataError, NotFoundError
from vcsmatch.store import referrals
from vcsmatch.store.secrets import get_secret

router = APIRouter()

ROLES = ("practitioner",)

STATUS_LABELS = {
    "made": "Referred",
    "accepted": "Accepted by the service",
    "declined": "Declined",
    "attended": "Attended",
    "not_attended": "Did not attend",
    "withdrawn": "Withdrawn",
}
REASON_LABELS = {
    "not_suitable": "Not suitable for the person",
    "not_eligible": "Not eligible",
    "no_capacity": "No capacity or waiting list",
    "person_declined": "The person declined",
    "no_contact": "Could not make contact",
    "other": "Another reason",
}


def _not_found(ws: WebSession | None) -> Response:
    return render(
        "message.html",
        404,
        session=ws,
        title="Referral not found",
        message="This referral or these suggestions do not exist or were made with another key.",
    )


async def _posted(request: Request, work) -> Response:  # noqa: ANN001 - (form, db, ws) -> Response
    form = await request.form()

    def guarded(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return refused
        if not csrf_ok(ws, form.get(CSRF_FIELD)):
            return expired_form(ws)
        if (limited := over_rate_limit(request, ws)) is not None:
            return limited
        return work(form, db, ws)

    return await run_in_threadpool(with_session, request, guarded)


@router.post("/suggestions/{request_id}/referrals")
async def refer(request: Request, request_id: str) -> Response:
    def work(form, db: Session, ws: WebSession) -> Response:  # noqa: ANN001 - a form
        service_id = form.get("service_id")
        if not isinstance(service_id, str) or len(request_id) > 64:
            return _not_found(ws)
        try:
            record, _ = referrals.make_referral(
                db,
                request_id=request_id,
                service_id=service_id,
                api_key_id=ws.key.id,
                team=ws.key.name,
            )
        except (NotFoundError, DataError):
            return _not_found(ws)
        return redirect(f"/referrals?{urlencode({'referred': record.id})}")

    return await _posted(request, work)


@router.get("/referrals")
def referrals_page(request: Request, referred: int | None = None) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return refused
        found = referrals.list_referrals(db, api_key_id=ws.key.id, open_only=True)  # type: ignore[union-attr]
        search = request.app.state.vcsmatch.serving.search
        names = {}
        for r in found:
            try:
                names[r.id] = search.get(r.service_id).name if search else r.service_id
            except NotFoundError:
                names[r.id] = r.service_id
        notice = None
        if referred is not None and referred in names:
            notice = f"Referral recorded: {names[referred]}"
        return render(
            "referrals.html",
            session=ws,
            nav="referrals",
            items=[
                {"referral": r, "name": names[r.id], "next": referrals.NEXT[r.status]}
                for r in found
            ],
            status_labels=STATUS_LABELS,
            reason_labels=REASON_LABELS,
            notice=notice,
        )

    return with_session(request, work)


@router.post("/referrals/{referral_id}")
async def update(request: Request, referral_id: int) -> Response:
    def work(form, db: Session, ws: WebSession) -> Response:  # noqa: ANN001 - a form
        status = form.get("status")
        reason = form.get("reason") or None
        if status != "declined":
            reason = None
        try:
            referrals.update_status(
                db,
                referral_id,
                api_key_id=ws.key.id,
                status=str(status),
                reason=None if reason is None else str(reason),
                secret=get_secret(db, request.app.state.vcsmatch.settings),
            )
        except NotFoundError:
            return _not_found(ws)
        except DataError as error:
            return render(
                "message.html",
                400,
                session=ws,
                title="Referral not updated",
                message=f"{error.field}: {error.reason}",
            )
        return redirect("/referrals")

    return await _posted(request, work)
