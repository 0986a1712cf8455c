"""The case page (/kasus/{complaint_id}, where notifications link): the case, the person, the timeline,
and a form for exactly each action this officer may take now.

Opening the page reads the person's data, so it is recorded as an access with a purpose:
"kunjungan lapangan" unless the officer picks another in the small form (`?tujuan=`). The action
forms post to /kasus/{id}/aksi/{action}; the action runs through the same path as the API's.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from api import policy
from api.offers import form_setup, offered_actions
from api.pages import PURPOSES, render
from api.principal import OfficerPrincipal
from api.routes_actions import BODIES, perform
from api.routes_referrals import submit_answer
from api.routes_pages import case_url, check_form, page_context, page_officer
from api.routes_person import checked_purpose, has_notes, read_person, with_notes
from api.routes_support import actor_of, case_facts, door_of, forbidden, now_utc, say
from referral import reference
from referral.actions import RULES
from referral.models import TimelinePage
from referral.sla import ClockName

router = APIRouter(include_in_schema=False)
TIMELINE_SHOWN = TimelinePage(offset=0, limit=500)
CHECKBOXES = {"needs_investigation": "perlu_investigasi"}
PARTNER_ROWS = 3  # the referral form's rows: one partner office and its need on each


def partner_rows(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The filled rows of the refer-to-partners form (`mitra_N`, `kebutuhan_N`); a row with only one of the
    two is kept, so the model names what is missing."""
    rows = []
    for n in range(1, PARTNER_ROWS + 1):
        partner = str(form.get(f"mitra_{n}") or "").strip()
        need = str(form.get(f"kebutuhan_{n}") or "").strip()
        if partner or need:
            rows.append({"partner": partner, "need": need})
    return rows


def form_body(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The action's body from a page form: empty fields left out, check boxes as booleans, an
    extension's amount and unit joined ("2 working_days"). The action's model judges the rest."""
    body: dict[str, Any] = {}
    for name in BODIES[action].model_fields:
        if name in CHECKBOXES:
            body[name] = form.get(CHECKBOXES[name]) == "ya"
        elif name == "verified":
            body[name] = form.get("tidak_terverifikasi") != "ya"
        elif name == "partners":
            body[name] = partner_rows(form)
        elif name == "by":
            amount, unit = str(form.get("jumlah") or "").strip(), str(form.get("satuan") or "").strip()
            if amount:
                body["by"] = f"{amount} {unit}"
        else:
            value = str(form.get(name) or "").strip()
            if value:
                body[name] = value
    return body


async def case_page(request: Request, principal: OfficerPrincipal, complaint_id: str, *, purpose: str,
                    error: str | None = None, problems: list[str] | None = None, status_code: int = 200,
                    done: str | None = None) -> Response:
    door = door_of(request)
    facts = await case_facts(door, complaint_id, TIMELINE_SHOWN)
    decision = policy.can_read(principal, facts.access)
    if not decision:
        raise forbidden(decision, door.language)
    view, person, person_erased = facts.view, None, None
    if policy.can_read_person(principal, facts.access):
        notes = has_notes(view)
        try:
            person = await read_person(door, principal, facts, purpose, request.state.request_id, notes_too=notes)
        except HTTPException as exc:
            if exc.status_code != 410:
                raise
            person_erased = str(exc.detail)  # past retention: the case shows, its person no longer
    shown = person is not None and "notes" in person.fields
    view = with_notes(view, door.config.pii_key if shown else None, shown=shown)
    now = now_utc()
    setup = form_setup(door.policy, await door.calendar(now), view)
    offered = offered_actions(view, actor_of(principal), setup, now)
    pendamping = []
    if "reassign" in offered:
        pendamping = [o for o in await door.store.roster.officers() if o.role == "pendamping"
                      and o.officer_id != view.pendamping_id]
    context = page_context(
        request, principal, view=view, person=person, purpose=purpose, offered=offered, error=error,
        problems=problems or [], done=done, pendamping=pendamping, categories=reference.categories(),
        running_clocks=[c.name.value for c in view.clocks if c.state != "stopped"],
        all_clocks=[c.value for c in ClockName], keys={name: uuid.uuid4().hex for name in offered},
        purposes=PURPOSES, person_erased=person_erased, partner_rows=range(1, PARTNER_ROWS + 1),
        answers_recorded=bool(policy.can_act(principal, "referral_accept", facts.access)),
        answer_key=uuid.uuid4().hex,
    )
    return render(request, "case.html", context, status_code=status_code)


@router.get("/kasus/{complaint_id}")
async def case_view(request: Request, complaint_id: str, tujuan: str | None = None, selesai: str | None = None,
                    principal: OfficerPrincipal = Depends(page_officer)) -> Response:
    door = door_of(request)
    purpose = checked_purpose(tujuan or PURPOSES[0], door.language)
    done = selesai if selesai in RULES else None
    return await case_page(request, principal, complaint_id, purpose=purpose, done=done)


@router.post("/kasus/{complaint_id}/aksi/{action}")
async def case_action(request: Request, complaint_id: str, action: str,
                      principal: OfficerPrincipal = Depends(page_officer)) -> Response:
    door = door_of(request)
    form = await request.form()
    check_form(request, form)
    if action not in RULES:
        raise HTTPException(404, f"unknown action: one of {', '.join(RULES)}")
    purpose = checked_purpose(str(form.get("tujuan") or PURPOSES[0]), door.language)
    try:
        await perform(door, principal, complaint_id, action, form_body(action, form), str(form.get("kunci") or "") or None)
    except HTTPException as exc:
        return await refused_page(request, principal, complaint_id, purpose, exc)
    return RedirectResponse(case_url(complaint_id, selesai=action, tujuan=purpose), status_code=303)


@router.post("/kasus/{complaint_id}/rujukan/{n}/{answer}")
async def referral_answer(request: Request, complaint_id: str, n: int, answer: str,
                          principal: OfficerPrincipal = Depends(page_officer)) -> Response:
    """An officer records a partner office's answer (given by telephone, letter or in person)."""
    door = door_of(request)
    form = await request.form()
    check_form(request, form)
    purpose = checked_purpose(str(form.get("tujuan") or PURPOSES[0]), door.language)
    data = {name: str(form.get(name) or "").strip() for name in ("via", "note", "provided", "nik", "reason")}
    data = {name: value for name, value in data.items() if value}
    try:
        await submit_answer(door, principal, complaint_id, n, answer, data, str(form.get("kunci") or "") or None)
    except HTTPException as exc:
        return await refused_page(request, principal, complaint_id, purpose, exc)
    return RedirectResponse(case_url(complaint_id, tujuan=purpose), status_code=303)


async def refused_page(request: Request, principal: OfficerPrincipal, complaint_id: str, purpose: str,
                       exc: HTTPException) -> Response:
    """A refused (409) or invalid (422) form: the case page again, saying why; any other error as it is."""
    if exc.status_code == 409:
        return await case_page(request, principal, complaint_id, purpose=purpose, status_code=409,
                               error=say("case.refused", door_of(request).language, reason=exc.detail))
    if exc.status_code == 422 and isinstance(exc.detail, dict):
        return await case_page(request, principal, complaint_id, purpose=purpose, status_code=422,
                               error=exc.detail["message"], problems=exc.detail["problems"])
    raise exc
