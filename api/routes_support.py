"""What every route shares: the door's state, the caller as an actor, a case's facts for the policy,
the door's own texts, and the errors routes raise (403, 404, 422, 503).

A case's facts come from the state query (`CaseView`: status, pendamping, bidang) and its search
attributes (`InvolvedBidang`, `SubmittedBy`, `ReferralPartners`), never from Postgres or the caller.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

import asyncpg
from fastapi import HTTPException, Request
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from activities.store import Store
from activities.store.access import AccessStore
from api.policy import CaseAccess, Decision
from api.principal import OfficerPrincipal, PartnerPrincipal, Principal
from api.settings import ApiSettings
from casework import cases
from casework.intake import workflow_id
from referral.calendar import WorkingCalendar
from referral import i18n
from referral.config import Settings
from referral.i18n import N_
from referral.setup import calendar_for
from referral.models import Actor, CaseView, TimelinePage
from referral.sla import SlaPolicy
from workflows import search_attributes as sa

CASE_ID = re.compile(r"^ADU-[0-9A-F]{12}(-[0-9]{1,4})?$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
CSRF_HEADER = "X-CSRF-Token"
RETRY_AFTER_SECONDS = 10

TEXTS: dict[str, str] = {  # code -> English msgid; referral/locale holds the Bahasa Indonesia
    "case.not_found": N_("No case {complaint_id}."),
    "case.refused": N_("The case refused this action: {reason}"),
    "case.no_person_row": N_("The personal data of case {complaint_id} is not stored yet; try again shortly."),
    "request.invalid": N_("Invalid request: check every field named."),
    "intake.invalid": N_("Invalid complaint: check every field named; no case was started."),
    "intake.failed": N_("The case could not be opened: {reason}"),
    "actor.from_credential": N_("the actor comes from your credential; do not send this field"),
    "reassign.unknown": N_("{pendamping_id!r} is not an active officer on the roster"),
    "idempotency.bad": N_("1-100 characters: letters, digits, '.', '_', ':' or '-'"),
    "purpose.bad": N_("required: why the personal data is read (at most 500 characters)"),
    "accesses.forbidden": N_(
        "Only the head of a bidang involved in this case or the kepala dinas may see who read its personal data."),
    "csrf.bad": N_("The form is stale or forged (CSRF); reload the page and try again."),
    "csrf.cookie_api": N_(
        "An API request authenticated by the session cookie needs an X-CSRF-Token header; services use"
        " the Authorization header."),
    "page.officers_only": N_("These pages are for Dinas Sosial officers; services and partners use the API (/v1)."),
    "unavailable.temporal": N_("The workflow engine (Temporal) cannot be reached; try again shortly."),
    "unavailable.worker": N_("No worker answered in time; try again shortly."),
    "unavailable.database": N_("The database (PostgreSQL) cannot be reached; try again shortly."),
    "unavailable.schema": N_(
        "The database is not set up (its tables are missing): start the worker once to apply the migrations."),
    "person.erased": N_(
        "The personal data of case {complaint_id} was erased on {date} after its retention period (UU"
        " PDP 27/2022); the case's trail is kept."),
    "internal": N_("Something went wrong on the server; it has been logged (request id {request_id})."),
}


def say(code: str, language: str = "id", **params: Any) -> str:
    return i18n.translator(language).gettext(TEXTS[code], **params)


@dataclass
class Door:
    """Everything the routes use, held by `app.state.door` for the app's lifetime."""

    settings: ApiSettings
    config: Settings
    store: Store
    client: Client
    policy: SlaPolicy
    access: AccessStore = field(init=False)

    def __post_init__(self) -> None:
        self.access = AccessStore(self.store.pool)

    @property
    def language(self) -> str:
        return self.settings.language

    @property
    def max_backdate(self) -> timedelta:
        return timedelta(days=self.policy.max_backdate_days)

    async def calendar(self, now: datetime) -> WorkingCalendar:
        """A calendar from this year on, for the page's action checks: the one the cases' set-up uses (built
        again, off the event loop, when the closures file changes)."""
        return await asyncio.to_thread(calendar_for, self.config, now.year)


def door_of(request: Request) -> Door:
    return request.app.state.door


# ---- who acts ----

def actor_of(p: Principal) -> Actor:
    """The actor a case records: an officer with role and bidang from the roster, else the system's id."""
    if isinstance(p, OfficerPrincipal):
        return Actor(id=p.officer_id, role=p.role, bidang=p.bidang)
    if isinstance(p, PartnerPrincipal):
        return Actor(id=p.partner_code, role="partner")
    return Actor(id=p.service_id, role="service")


def update_id(p: Principal, action: str, key: str | None, language: str = "id") -> str | None:
    """The Temporal update id for an Idempotency-Key, scoped by caller and action (None: no key)."""
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise unprocessable([f"Idempotency-Key: {say('idempotency.bad', language)}"], language)
    return f"{p.kind}:{p.principal_id}:{action}:{key}"


# ---- a case's facts ----

@dataclass(frozen=True)
class CaseFacts:
    view: CaseView
    access: CaseAccess


def access_of(view: CaseView, row: Mapping[str, Any]) -> CaseAccess:
    """The policy's facts: the live state, and the search attributes that say who else is involved."""
    return CaseAccess(
        status=view.status.value, pendamping_id=view.pendamping_id, bidang=view.bidang,
        pendamping_bidang=view.pendamping_bidang, involved_bidang=frozenset(row.get("involved_bidang") or ()),
        submitted_by=row.get("submitted_by") or None, referral_partners=frozenset(row.get("referral_partners") or ()),
    )


def access_of_row(row: Mapping[str, Any]) -> CaseAccess:
    """The same facts from a case list row (visibility only)."""
    return CaseAccess(
        status=row.get("status") or "received", pendamping_id=row.get("pendamping_id"), bidang=row.get("bidang") or "",
        involved_bidang=frozenset(row.get("involved_bidang") or ()), submitted_by=row.get("submitted_by") or None,
        referral_partners=frozenset(row.get("referral_partners") or ()),
    )


async def case_facts(door: Door, complaint_id: str, page: TimelinePage | None = None) -> CaseFacts:
    """The case's view and policy facts; 404 when there is no such case."""
    if not CASE_ID.fullmatch(complaint_id):
        raise not_found(complaint_id, door.language)
    try:
        view = await cases.state(door.client, complaint_id, page)
        described = await door.client.get_workflow_handle(workflow_id(complaint_id)).describe()
    except cases.CaseNotFound:
        raise not_found(complaint_id, door.language) from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise not_found(complaint_id, door.language) from None
        raise
    return CaseFacts(view=view, access=access_of(view, sa.row_of(described.typed_search_attributes)))


# ---- errors ----

def not_found(complaint_id: str, language: str) -> HTTPException:
    return HTTPException(404, say("case.not_found", language, complaint_id=complaint_id[:40]))


def forbidden(decision: Decision, language: str) -> HTTPException:
    return HTTPException(403, decision.text(language))


def unprocessable(problems: list[str], language: str, code: str = "request.invalid") -> HTTPException:
    """422 naming every bad field: `{"detail": <headline>, "problems": ["field: what is wrong", ...]}`."""
    return HTTPException(422, {"message": say(code, language), "problems": problems})


def problem_lines(errors: Iterable[Mapping[str, Any]], language: str = "id") -> list[str]:
    """pydantic errors as "field.path: message" lines, without the request part (body, query...)."""
    lines = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        path = ".".join(loc) or "(body)"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if loc[-1:] == ["actor"] and err.get("type") == "extra_forbidden":
            message = say("actor.from_credential", language)
        lines.append(f"{path}: {message}")
    return lines


def unavailable_kind(exc: BaseException) -> str | None:
    """Which dependency an exception says is down ("temporal", "worker", "database"), or None."""
    if isinstance(exc, RPCTimeoutOrCancelledError):
        return "worker"
    if isinstance(exc, RPCError):
        down = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
        return "temporal" if exc.status in down else None
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return "temporal"  # a lazy client whose server does not answer
    if isinstance(exc, asyncpg.UndefinedTableError):
        return "schema"
    if isinstance(exc, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.TooManyConnectionsError,
                        asyncpg.CannotConnectNowError, OSError)):
        return "database"
    return None


# ---- CSRF for cookie-authenticated requests ----

def csrf_token(secret: str, credential: str) -> str:
    """Bound to the session's credential: a form from another session, or forged, does not match."""
    return hmac.new(secret.encode(), hashlib.sha256(credential.encode()).digest(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, credential: str | None, sent: str | None) -> bool:
    return bool(credential and sent) and hmac.compare_digest(csrf_token(secret, credential), sent)


def same_origin(origin: str | None, host: str | None) -> bool:
    """A browser's Origin header (when it sends one) must name this very host."""
    if not origin:
        return True
    if origin == "null" or not host:
        return False
    return origin.split("://", 1)[-1].rstrip("/") == host


def require_csrf_for_cookie(request: Request, door: Door) -> None:
    """A state-changing API call authenticated by the session cookie must carry the page's token."""
    if getattr(request.state, "credential_source", None) != "cookie":
        return
    credential = request.cookies.get(door.settings.session_cookie)
    if not csrf_ok(door.settings.csrf_secret, credential, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, say("csrf.cookie_api", door.language))


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def sorted_worklist(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Breached cases first, then by the next deadline (none last), then by id."""
    far = datetime.max.replace(tzinfo=timezone.utc)

    def deadline(row: Mapping[str, Any]) -> datetime:
        value = row.get("next_deadline")
        return datetime.fromisoformat(value) if isinstance(value, str) else value or far

    return sorted(rows, key=lambda r: (not r.get("sla_breached"), deadline(r), r.get("complaint_id") or ""))
