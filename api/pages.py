"""The worklist pages' presentation: templates, labels, office-time formatting, responses.

Everything an officer reads here is in Bahasa Indonesia by default (REFERRAL_LANGUAGE=en for English):
the templates use Jinja2's i18n extension over the project's gettext catalogs (referral/locale); codes
(status, actions, events, clocks) get their label from the tables below or referral.i18n and fall back
to the code itself. Times are shown in the office's zone (WITA by default, REFERRAL_UTC_OFFSET_MINUTES).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from referral import i18n, reference
from referral.i18n import CLOCK_STATES, CLOCKS, EVENTS, N_, STATUS, URGENCY
from referral.reports import outcome_catalogue, outcome_label

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
ZONE_NAMES = i18n.ZONE_NAMES

ACTIONS = {
    "acknowledge": N_("Acknowledge the case"), "assess": N_("Record the assessment"),
    "refer": N_("Refer to the bidang"), "refer_partner": N_("Refer to partner offices"), "resolve": N_("Declare the case resolved"), "close": N_("Close the case"),
    "reject": N_("Reject the case"), "reassign": N_("Hand to another pendamping"), "reopen": N_("Reopen the case"),
    "pause": N_("Pause (stop the SLA clocks)"), "resume": N_("Resume the SLA clocks"),
    "extend": N_("Extend a deadline"), "change_policy": N_("Apply the newest SLA policy"),
    "change_calendar": N_("Apply the working-day calendar now in force"), "retry": N_("Retry the failed step"),
}
REJECT_REASONS = {"out_of_area": N_("Outside the area"), "duplicate": N_("Duplicate complaint"),
                  "not_ppks": N_("Not a PPKS case"), "not_verified": N_("Could not be verified"),
                  "withdrawn": N_("Withdrawn by the reporter"),
                  "bukan_wewenang": N_("Not this office's authority (forwarded)")}
REFERRAL_STATES = {"sent": N_("Sent"), "accepted": N_("Accepted"), "overdue": N_("Overdue"), "done": N_("Done"),
                   "refused": N_("Refused"), "withdrawn": N_("Withdrawn")}
# How an answer an officer records reached the office (the referral API's `via`).
ANSWER_WAYS = {"telepon": N_("by telephone"), "surat": N_("by letter"), "langsung": N_("in person")}
UNITS = {"working_days": N_("working days"), "working_hours": N_("working hours"),
         "calendar_days": N_("calendar days"), "calendar_hours": N_("calendar hours")}
SEX = {"male": N_("Male"), "female": N_("Female")}
ROLES = {"pendamping": N_("Pendamping"), "head_of_bidang": N_("Head of bidang"), "kepala_dinas": N_("Kepala dinas")}
# Why a person's data is opened (UU PDP: every read names its purpose); the first is the default. Recorded
# as written, so they stay in Bahasa Indonesia whatever the page's language.
PURPOSES = ("kunjungan lapangan", "verifikasi data", "menyusun rujukan", "menghubungi pelapor",
            "menjawab pertanyaan warga")
DETAIL_LABELS = {"note": N_("Note"), "plan": N_("Plan"), "reason": N_("Reason"), "outcome": N_("Outcome"),
                 "category": N_("Category"), "pendamping_id": N_("Pendamping"), "clock": N_("Clock"),
                 "by": N_("Added"), "deadline": N_("New deadline"), "escalated_to": N_("Escalated to"),
                 "duplicate_of": N_("Duplicate of"), "status": N_("Status"), "step": N_("Step"),
                 "problem": N_("Problem")}


def label(table: dict[str, str], code: Any, language: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A code's label in `language`; an unknown code reads as itself (underscores as spaces)."""
    return i18n.translator(language).label(table, code)


def office_time(at: datetime | str | None, offset_minutes: int = 480, language: str = i18n.DEFAULT_LANGUAGE) -> str:
    """'Rab, 25 Mar 2026 10.00 WITA' in the office's zone (the one date format of the project)."""
    return i18n.translator(language).moment(at, offset_minutes)


def village_label(code: str | None) -> str:
    village = reference.villages().get(code or "")
    return f"{village.label}, Kec. {village.kecamatan}" if village else (code or "—")


def category_name(code: str | None) -> str:
    category = reference.categories().get(code or "")
    return category.name if category else (code or "—")


def bidang_name(code: str | None) -> str:
    return reference.bidang_names().get(code or "", code or "—")


def outcomes(language: str = i18n.DEFAULT_LANGUAGE) -> dict[str, str]:
    """The resolve form's choices: the outcome catalogue (referral/data/outcomes.csv), labelled."""
    tr = i18n.translator(language)
    codes = list(outcome_catalogue()) or list(i18n.OUTCOMES)
    return {code: outcome_label(code, tr) for code in codes}


def detail_lines(detail: dict[str, Any], offset_minutes: int,
                 language: str = i18n.DEFAULT_LANGUAGE) -> list[tuple[str, str]]:
    """The parts of a timeline entry's detail an officer reads, labelled."""
    tr = i18n.translator(language)
    lines = []
    for key, value in detail.items():
        if key not in DETAIL_LABELS or value in (None, "", [], {}):
            continue
        if key == "outcome":
            value = outcome_label(value, tr)
        elif key == "clock":
            value = tr.label(CLOCKS, value)
        elif key == "category":
            value = category_name(value)
        elif key == "deadline":
            value = tr.moment(value, offset_minutes)
        lines.append((tr.label(DETAIL_LABELS, key), str(value)))
    return lines


def build_templates(offset_minutes: int, language: str | None = None) -> Jinja2Templates:
    """The pages' templates in `language` (default REFERRAL_LANGUAGE): Jinja2's i18n extension over the
    project's catalogs, and filters that label codes and show times in the office's zone."""
    tr = i18n.translator(language)
    lang = tr.language
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # the msgids are extracted trimmed too (babel.cfg)
    env.install_gettext_translations(tr.translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        waktu=lambda at: tr.moment(at, offset_minutes), status=lambda c: tr.label(STATUS, c),
        aksi=lambda c: tr.label(ACTIONS, c), peristiwa=lambda c: tr.label(EVENTS, c),
        jam=lambda c: tr.label(CLOCKS, c), keadaan_jam=lambda c: tr.label(CLOCK_STATES, c),
        urgensi=lambda c: tr.label(URGENCY, c), desa=village_label, kategori=category_name, bidang=bidang_name,
        kelamin=lambda c: tr.label(SEX, c), peran=lambda c: tr.label(ROLES, c),
        rincian=lambda d: detail_lines(d or {}, offset_minutes, lang),
        aktor=lambda a: i18n.recipient_label(str(a), reference.bidang_names(), tr),
        rujukan=lambda c: tr.label(REFERRAL_STATES, c),
    )
    env.globals.update(
        OUTCOMES=outcomes(lang), REJECT_REASONS={c: tr.gettext(m) for c, m in REJECT_REASONS.items()},
        UNITS={c: tr.gettext(m) for c, m in UNITS.items()}, CLOCKS=CLOCKS, PURPOSES=PURPOSES, lang=lang,
        PARTNERS={code: p.name for code, p in reference.partners().items()}, PROGRAMMES=reference.programmes(),
        ANSWER_WAYS={c: tr.gettext(m) for c, m in ANSWER_WAYS.items()},
    )
    return templates


# Pages hold personal data: never cached, never framed, no third-party anything.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none';"
                               " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send Origin: null
}


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update({**PAGE_HEADERS, **(headers or {})})
    return response
