"""Bahasa Indonesia by default, English on request: gettext catalogs (Babel) for every text people read.

Msgids are the English texts; Python code fills `{name}` placeholders (str.format), Jinja2 templates use
`%(name)s` (the i18n extension's new style). The catalogs live in `referral/locale/<lang>/LC_MESSAGES/
referral.po` and are compiled in memory with Babel when this module is imported, so no call reads a file:
presentation code runs inside the workflow sandbox and must stay deterministic. Babel's locale data for
the dates is loaded at import for the same reason.

Adding a string: write it in English inside `tr.gettext(...)`, `tr.pgettext(ctx, ...)`, `tr.ngettext(...)`
or `N_(...)` (a table entry translated when looked up), or `{% trans %}`/`_()` in a template; then

    .venv/bin/pybabel extract -F babel.cfg -c TRANSLATORS: --no-location --sort-output -w 120 \
        --project buleleng-referral --copyright-holder "Dinas Sosial Kabupaten Buleleng" \
        -o referral/locale/referral.pot .
    .venv/bin/pybabel update -i referral/locale/referral.pot -d referral/locale -D referral \
        --no-fuzzy-matching --ignore-obsolete -w 120
    # translate each new msgstr in referral/locale/id/LC_MESSAGES/referral.po (both msgstr[0] and [1] of a
    # plural: Babel gives Indonesian two forms, the same text in each); en may stay empty (msgid is English)

Keep a translated call's first argument a plain literal, outside f-strings and not nested in another call:
pybabel would not see it (tests/unit/test_i18n.py checks).

tests/unit/test_i18n.py extracts the code again and fails while any msgid has no Indonesian translation.

One setting governs: REFERRAL_LANGUAGE (`id` or `en`, default `id`). REFERRAL_CLI_LANG is an older alias,
read only when REFERRAL_LANGUAGE is unset.
"""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
DOMAIN = "referral"
LANGUAGE_SETTING, LANGUAGE_ALIAS = "REFERRAL_LANGUAGE", "REFERRAL_CLI_LANG"
ZONE_NAMES = {420: "WIB", 480: "WITA", 540: "WIT"}
# One date format everywhere (notices, details, timers, pages): "Rab, 18 Agu 2027 16.00 WITA".
DATE_PATTERNS = {"id": "EEE, d MMM y HH.mm", "en": "EEE, d MMM y HH:mm"}


def N_(msgid: str) -> str:
    """Marks a text for extraction without translating it (tables looked up later with `gettext`)."""
    return msgid


def normalize(value: str | None, setting: str = LANGUAGE_SETTING) -> str:
    """'id', 'ID', 'id_ID', 'in' -> 'id'; 'en', 'en_US' -> 'en'; empty -> the default; anything else refused."""
    text = (value or "").strip().lower().replace("-", "_")
    if not text:
        return DEFAULT_LANGUAGE
    base = text.split("_")[0]
    base = "id" if base in ("in", "ind", "indonesian", "indonesia") else "en" if base in ("eng", "english") else base
    if base not in LANGUAGES:
        raise ValueError(f"{setting} must be one of {', '.join(LANGUAGES)}, not {value!r}")
    return base


def language_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """REFERRAL_LANGUAGE, else the older REFERRAL_CLI_LANG, else Bahasa Indonesia."""
    if environ.get(LANGUAGE_SETTING, "").strip():
        return normalize(environ[LANGUAGE_SETTING], LANGUAGE_SETTING)
    return normalize(environ.get(LANGUAGE_ALIAS, ""), LANGUAGE_ALIAS)


def _po_file(language: str):
    return resources.files("referral").joinpath("locale", language, "LC_MESSAGES", f"{DOMAIN}.po")


def _load_catalog(language: str) -> Catalog:
    with _po_file(language).open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def _compile(catalog: Catalog) -> gettext.GNUTranslations:
    """The .po compiled to .mo in memory (fuzzy entries left out, as msgfmt does)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """The texts of one language. Each method fills the translation's `{placeholders}` from `values`."""

    def __init__(self, language: str, translations: gettext.GNUTranslations) -> None:
        self.language = language
        self.translations = translations
        self.locale = Locale.parse(language)
        _ = (self.locale.days, self.locale.months, self.locale.number_symbols, self.locale.decimal_formats)

    def gettext(self, msgid: str, **values: Any) -> str:
        text = self.translations.gettext(msgid)
        return text.format(**values) if values else text

    def pgettext(self, context: str, msgid: str, **values: Any) -> str:
        text = self.translations.pgettext(context, msgid)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return self.translations.ngettext(singular, plural, n).format(n=n, **values)

    def label(self, table: Mapping[str, str], code: Any) -> str:
        """A code's label from a table of N_-marked msgids; an unknown code reads as itself, '—' for none."""
        if code is None or code == "":
            return "—"
        msgid = table.get(str(code))
        return self.gettext(msgid) if msgid else str(code).replace("_", " ")

    def moment(self, at: datetime | str | None, utc_offset_minutes: int = 480) -> str:
        """'Rab, 18 Agu 2027 16.00 WITA' (en: 'Wed, 18 Aug 2027 16:00 WITA') in the office's zone."""
        if at is None or at == "":
            return "—"
        moment = datetime.fromisoformat(at) if isinstance(at, str) else at
        return _moment_text(moment, utc_offset_minutes, self.language)

    def number(self, value: float | int | None, digits: int = 2) -> str:
        """'4,25' (en: '4.25'); '-' for none."""
        if value is None:
            return "-"
        if isinstance(value, int):
            return str(value)
        return format_decimal(value, "0." + "0" * digits if digits else "0", locale=self.locale)


CATALOGS: dict[str, Catalog] = {language: _load_catalog(language) for language in LANGUAGES}
_TRANSLATORS: dict[str, Translator] = {
    language: Translator(language, _compile(catalog)) for language, catalog in CATALOGS.items()
}


def translator(language: str | None = None) -> Translator:
    """The texts in `language` (None: REFERRAL_LANGUAGE). A case's recorded language that this build no
    longer knows reads in the default language rather than failing the workflow."""
    if language is None:
        language = language_from_env()
    return _TRANSLATORS.get(language) or _TRANSLATORS[DEFAULT_LANGUAGE]


def lower_first(text: str) -> str:
    """A label inside a sentence: 'Verifikasi (kunjungan lapangan)' -> 'verifikasi (kunjungan lapangan)'."""
    return text[:1].lower() + text[1:]


# ---- labels shared by the UI summaries, the notices, the reports and the pages --------------

STATUS = {
    "received": N_("Received"), "assigned": N_("Assigned"), "acknowledged": N_("Acknowledged"),
    "assessed": N_("Assessed"), "referred": N_("Referred"), "resolved": N_("Resolved"), "closed": N_("Closed"),
    "rejected": N_("Rejected"), "joined": N_("Joined another case"),
}
CLOCKS = {
    "acknowledgement": N_("Acknowledgement"), "verification": N_("Verification (field visit)"),
    "follow_up_plan": N_("Follow-up plan"), "completion": N_("Completion"),
    "overall": N_("Resolution since the report"), "referral": N_("Referral to a partner office"),
}
CLOCK_STATES = {"running": N_("running"), "paused": N_("paused"), "stopped": N_("stopped")}
URGENCY = {"normal": N_("Normal"), "urgent": N_("Urgent"), "emergency": N_("Emergency")}
CHANNELS = {
    "puskesos": N_("Puskesos desk"), "pendamping": N_("Pendamping"), "hotline": N_("Hotline"),
    "whatsapp": N_("WhatsApp"), "lapor": N_("LAPOR!"), "walk_in": N_("Walk-in at the office"),
    "other_service": N_("Another service"),
}
EVENTS = {
    "received": N_("Complaint received"), "assigned": N_("Assigned to a pendamping"),
    "acknowledged": N_("Case acknowledged"), "assessed": N_("Assessment recorded"),
    "referred": N_("Referred to the bidang"), "resolved": N_("Resolved"), "closed": N_("Case closed"),
    "rejected": N_("Case rejected"), "reassigned": N_("Handed to another pendamping"),
    "reopened": N_("Case reopened"), "paused": N_("SLA clocks paused"), "resumed": N_("SLA clocks resumed"),
    "extended": N_("Deadline extended"), "policy_changed": N_("SLA policy changed"),
    "calendar_changed": N_("Working-day calendar changed"), "retried": N_("Step retried"),
    "sla_warning": N_("Deadline warning"), "sla_escalated": N_("Deadline passed: escalation"),
    "needs_attention": N_("Needs attention"), "joined": N_("Joined another case"),
}
OUTCOMES = {
    "service_provided": N_("Service provided"), "social_assistance": N_("Social assistance"),
    "referred_external": N_("Referred to another institution"),
    "institutional_care": N_("Care in an institution (panti)"), "not_eligible": N_("Not eligible"),
    "subject_unreachable": N_("Person could not be reached"),
}
# Intake warnings (`case.warnings`): what was accepted but is doubtful.
WARNINGS = {
    "nik_birth_date_mismatch": N_("the birth date does not match the NIK"),
    "nik_sex_mismatch": N_("the sex does not match the NIK"),
}
# The steps a case can be stuck on (`case.attention.step`).
STEPS = {
    "intake": N_("recording the complaint"), "assignment": N_("assigning a pendamping"),
    "sla": N_("the SLA clocks"), "setup": N_("setting up the case"),
}


def recipient_label(recipient: str, bidang_names: Mapping[str, str], tr: Translator) -> str:
    """'head:rehabilitasi_sosial' -> 'kepala Bidang Rehabilitasi Sosial'; an officer id reads as itself."""
    if recipient.startswith("head:"):
        code = recipient.split(":", 1)[1]
        return tr.gettext("head of {bidang}", bidang=bidang_names.get(code, code))
    if recipient == "kepala_dinas":
        return tr.gettext("the kepala dinas")
    if recipient == "piket":
        return tr.gettext("the officer on duty")
    if recipient == "system":
        return tr.gettext("system")
    return recipient


@lru_cache(maxsize=4096)  # a case's details show the same deadlines at every step: formatted once per process
def _moment_text(moment: datetime, utc_offset_minutes: int, language: str) -> str:
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    name = ZONE_NAMES.get(utc_offset_minutes, f"UTC{utc_offset_minutes / 60:+g}")
    return f"{format_datetime(moment, DATE_PATTERNS[language], tzinfo=zone, locale=language)} {name}"
