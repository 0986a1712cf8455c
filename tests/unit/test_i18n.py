"""The catalogs are complete and in step with the code; the texts people read, in Bahasa Indonesia and English."""

from __future__ import annotations

import ast
import re
import string
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from api.pages import build_templates
from referral import i18n, notices, presentation
from referral.actions import Step
from referral.records import NoticeContext, NoticeRequest
from referral.sla import Clock, ClockName, Milestone
from tests.conftest import make_intake
from tests.unit.cases import WITA, case

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None}


def extracted() -> dict[tuple[str | tuple[str, ...], str | None], str]:
    """Every msgid the code and the templates use (as `pybabel extract -F babel.cfg` finds them) -> where."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found[(message, context)] = f"{filename}:{lineno}"
    return found


USED = extracted()


def _first(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def _translated(language: str, msgid, context) -> str | tuple[str, ...] | None:
    entry = i18n.CATALOGS[language].get(msgid, context)
    if entry is None or entry.fuzzy:
        return None
    return entry.string


def test_every_text_in_the_code_has_an_indonesian_translation() -> None:
    assert len(USED) > 300
    missing = {f"{where}: {_first(m)!r}" for (m, ctx), where in USED.items()
               if not (s := _translated("id", m, ctx)) or (isinstance(s, tuple) and not all(s))}
    assert missing == set(), "run pybabel extract/update and translate these (see referral/i18n.py)"


def test_the_catalogs_hold_nothing_the_code_no_longer_uses() -> None:
    for language in i18n.LANGUAGES:
        stale = {entry.id for entry in i18n.CATALOGS[language] if entry.id and (entry.id, entry.context) not in USED}
        assert stale == set(), language


def test_translations_keep_the_placeholders() -> None:
    def names(text: str) -> set[str]:
        braces = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        return braces | set(re.findall(r"%\((\w+)\)s", text))

    for (msgid, context) in USED:
        indonesian = _translated("id", msgid, context)
        for source, target in zip(msgid if isinstance(msgid, tuple) else (msgid,),
                                  indonesian if isinstance(indonesian, tuple) else (indonesian,)):
            assert names(target) == names(source) or names(target) == names(msgid[0]), msgid


def test_no_text_is_translated_inside_an_f_string() -> None:
    """pybabel cannot see a gettext call inside an f-string: such a text would never reach the catalog."""
    pattern = re.compile(r"""\bf(["'])[^"'\n]*\b(gettext|pgettext|ngettext|N_)\(""")
    sources = [*ROOT.glob("referral/**/*.py"), *ROOT.glob("casework/*.py"), *ROOT.glob("api/*.py"),
               *ROOT.glob("activities/**/*.py"), ROOT / "starter.py"]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in sources
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_every_marked_text_reaches_the_catalog() -> None:
    """A literal first argument of gettext/ngettext/N_ that extraction misses (nested in another call, or
    inside an f-string) would never be translated: each one found by a plain scan must be extracted."""
    call = re.compile(r"""\b(?:gettext|ngettext|N_)\(\s*(["'])((?:(?!\1)[^\\\n]|\\.)*)\1""")
    sources = [*ROOT.glob("referral/**/*.py"), *ROOT.glob("casework/*.py"), *ROOT.glob("api/*.py"),
               *ROOT.glob("activities/**/*.py"), ROOT / "starter.py"]
    known = [_first(m) for m, _ in USED]
    lost = [f"{p.relative_to(ROOT)}: {literal!r}" for p in sources
            for quote, literal in call.findall(p.read_text(encoding="utf-8"))
            if literal and not any(k.startswith(ast.literal_eval(quote + literal + quote)) for k in known)]
    assert lost == []


@pytest.mark.parametrize("environ, expected", [
    ({}, "id"),
    ({"REFERRAL_LANGUAGE": "en"}, "en"),
    ({"REFERRAL_LANGUAGE": "en_US"}, "en"),
    ({"REFERRAL_LANGUAGE": "ID"}, "id"),
    ({"REFERRAL_LANGUAGE": " "}, "id"),
    ({"REFERRAL_CLI_LANG": "en"}, "en"),  # the older name, read when REFERRAL_LANGUAGE is unset
    ({"REFERRAL_LANGUAGE": "id", "REFERRAL_CLI_LANG": "en"}, "id"),  # one setting governs
])
def test_one_setting_governs_the_language(environ, expected) -> None:
    assert i18n.language_from_env(environ) == expected


def test_an_unknown_language_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="REFERRAL_LANGUAGE must be one of id, en, not 'fr'"):
        i18n.language_from_env({"REFERRAL_LANGUAGE": "fr"})
    assert i18n.translator("xx").language == "id"  # a recorded case's unknown language reads in Indonesian


def test_one_date_format_in_wita_with_indonesian_names() -> None:
    at = datetime(2027, 8, 18, 8, 0, tzinfo=WITA.utc)  # 16:00 WITA
    assert i18n.translator("id").moment(at) == "Rab, 18 Agu 2027 16.00 WITA"
    assert i18n.translator("en").moment(at) == "Wed, 18 Aug 2027 16:00 WITA"
    assert i18n.translator("id").moment("2026-12-25T01:30:00+00:00", 420) == "Jum, 25 Des 2026 08.30 WIB"
    assert i18n.translator("id").moment(None) == "—"


# ---- the Web UI ----

def _milestone(kind: str, level: int = 0, percent: int = 100) -> tuple[Clock, Milestone]:
    state = case()
    return state.clocks.get(ClockName.ACKNOWLEDGEMENT), Milestone(
        key="x", kind=kind, level=level, percent=percent, at=datetime(2026, 3, 25, 10, 0, tzinfo=WITA))


def test_timer_summaries() -> None:
    calendar = case().setup.calendar
    assert presentation.timer_summary(_milestone("escalation", 1), calendar) == \
        "SLA: tenggat konfirmasi Rab, 25 Mar 2026 10.00 WITA"
    assert presentation.timer_summary(_milestone("warning", percent=80), calendar) == \
        "SLA: peringatan konfirmasi (80%) Rab, 25 Mar 2026 10.00 WITA"
    assert presentation.timer_summary(_milestone("escalation", 2), calendar) == \
        "SLA: eskalasi konfirmasi ke level 2 Rab, 25 Mar 2026 10.00 WITA"
    assert presentation.timer_summary(_milestone("escalation", 1), calendar, "en") == \
        "SLA: acknowledgement due Wed, 25 Mar 2026 10:00 WITA"


def test_local_activity_summaries() -> None:
    breach = Step("sla_escalated", "sla", {"clock": "overall", "milestone": "breach", "escalated_to": "head:rehabilitasi_sosial"})
    assert presentation.record_summary(breach) == "SLA terlewati: penyelesaian sejak laporan -> head:rehabilitasi_sosial"
    assert presentation.record_summary(breach, "en") == \
        "SLA breach: resolution since the report -> head:rehabilitasi_sosial"
    assert presentation.record_summary(Step("assigned", "system", {})) == "Catat ditugaskan ke pendamping oleh sistem"
    assert presentation.step_summary("intake", category="Penyandang Disabilitas", village="Desa Bengkala") == \
        "Catat pengaduan dan tugaskan: Penyandang Disabilitas di Desa Bengkala"
    assert presentation.step_summary("setup", "en") == "Load SLA policy, working-day calendar and village"


def test_static_summary_and_details() -> None:
    intake = make_intake(urgency="emergency", conditions=["odgj"], reported_at="2026-04-15T10:00:00+08:00")
    assert presentation.static_summary(intake, "id") == "Penyandang Disabilitas · Desa Bengkala, Kec. Kubutambahan · Darurat"
    assert presentation.static_details("ADU-1", intake, "id").splitlines() == [
        "**Pengaduan** ADU-1",
        "",
        "- **Kategori PPKS:** Penyandang Disabilitas (`penyandang_disabilitas`)",
        "- **Desa/kelurahan:** Desa Bengkala (`51.08.08.2010`), Kecamatan Kubutambahan",
        "- **Urgensi:** Darurat",
        "- **Kanal:** Puskesos",
        "- **Bidang penanggung jawab:** Bidang Rehabilitasi Sosial",
        "- **Kondisi:** Orang dengan gangguan jiwa (ODGJ)",
        "",
        "Nama, NIK, nomor telepon, dan uraian tidak disimpan di Temporal: semuanya hanya ada di catatan kasus di"
        " Postgres.",
    ]
    assert "- **Urgency:** Emergency" in presentation.static_details("ADU-1", intake, "en")


def _details_case(language: str = "id"):
    state = case(clocks=(ClockName.ACKNOWLEDGEMENT, ClockName.VERIFICATION, ClockName.OVERALL))
    state.warnings = ["nik_birth_date_mismatch", "something_new"]
    state.setup = state.setup.model_copy(update={"language": language, "calendar": state.setup.calendar.model_copy(
        update={"unconfirmed_years": (2026,)})})
    return state


def test_current_details_in_indonesian() -> None:
    details = presentation.current_details(_details_case(), datetime(2026, 4, 17, 9, 0, tzinfo=WITA))
    assert details.splitlines()[:11] == [
        "**Status:** Ditugaskan",
        "**Pendamping:** PD-34",
        "**Bidang:** Bidang Rehabilitasi Sosial",
        "**Tingkat eskalasi:** 0 · **SLA terlewati**",
        "**Peringatan saat pencatatan:** tanggal lahir tidak cocok dengan NIK; something new",
        "",
        "**Jam SLA**",
        "",
        "- **Konfirmasi:** TERLEWATI (tenggat Kam, 16 Apr 2026 10.00 WITA)",
        "- **Verifikasi (kunjungan lapangan):** berjalan, tenggat Sen, 20 Apr 2026 10.00 WITA"
        " · hari libur Bali dihitung, belum dikonfirmasi",
        "- **Penyelesaian sejak laporan:** berjalan, tenggat Rab, 6 Mei 2026 10.00 WITA"
        " · hari libur Bali dihitung, belum dikonfirmasi",
    ]
    assert "Hari libur Bali (Galungan, Kuningan) tahun 2026 dihitung dari siklus pawukon" in details
    assert details.endswith("Kebijakan 2026.2 · kalender " + _details_case().setup.calendar.version)


def test_current_details_say_what_needs_attention_and_confirmed_years_say_nothing() -> None:
    from referral.case import Attention

    state = _details_case()
    state.setup = state.setup.model_copy(update={"calendar": state.setup.calendar.model_copy(
        update={"unconfirmed_years": (2027,)})})
    state.attention = Attention(step="assignment", problem="timed out (is PostgreSQL reachable?)",
                                since=datetime(2026, 4, 15, 10, 0, tzinfo=WITA))
    details = presentation.current_details(state, datetime(2026, 4, 15, 11, 0, tzinfo=WITA))
    assert "**Perlu perhatian** (penugasan pendamping): timed out (is PostgreSQL reachable?)" in details
    assert "belum dikonfirmasi" not in details


def test_current_details_in_english() -> None:
    details = presentation.current_details(_details_case("en"), datetime(2026, 4, 17, 9, 0, tzinfo=WITA))
    assert "- **Acknowledgement:** BREACHED (was due Thu, 16 Apr 2026 10:00 WITA)" in details
    assert "**Intake warnings:** the birth date does not match the NIK; something new" in details
    assert "· Bali holidays counted, not yet confirmed" in details


# ---- notifications ----

CTX = NoticeContext(complaint_id="ADU-000000000001", village="Desa Bengkala", kecamatan="Kubutambahan",
                    category="penyandang_disabilitas", category_name="Penyandang Disabilitas", urgency="urgent",
                    status="assigned", deadline=datetime(2026, 4, 16, 16, 0, tzinfo=WITA))
URL = "http://localhost:8000/kasus/ADU-000000000001"


def _notice(kind: str, **facts) -> NoticeRequest:
    return NoticeRequest(recipient="PD-34", kind=kind, facts=facts, not_before=CTX.deadline)


def test_an_escalation_notice_in_indonesian() -> None:
    subject, body = notices.render(_notice("sla_escalated", clock="verification", level=1, milestone="breach",
                                           due_at="2026-04-16T10:00:00+08:00"), CTX, URL)
    assert subject == "[ADU-000000000001] Tenggat verifikasi (kunjungan lapangan) terlewati, dieskalasi kepada Anda:" \
                      " Desa Bengkala"
    assert body.splitlines() == [
        "Tenggat verifikasi (kunjungan lapangan) kasus di Desa Bengkala terlewati: kasus dieskalasi kepada Anda (level 1).",
        "",
        "Kasus ADU-000000000001: Penyandang Disabilitas, Desa Bengkala (Kec. Kubutambahan), urgensi mendesak.",
        "Yang diharapkan dari Anda: pastikan kasus berjalan: hubungi petugas yang memegangnya.",
        "Paling lambat: segera (tenggat sudah lewat Kam, 16 Apr 2026 10.00 WITA).",
        "Status: ditugaskan.",
        "",
        "Buka kasus: http://localhost:8000/kasus/ADU-000000000001",
    ]


@pytest.mark.parametrize("kind, facts, subject, expected", [
    ("reassigned", {}, "Kasus di Desa Bengkala dialihkan kepada Anda", "rencanakan kunjungan lapangan"),
    ("referred", {}, "Kasus di Desa Bengkala dirujuk ke bidang Anda", "selesaikan penanganan kasus"),
    ("reopened", {}, "Kasus di Desa Bengkala dibuka kembali", "tangani kembali kasus ini"),
    ("needs_attention", {}, "Kasus di Desa Bengkala perlu perhatian", "Paling lambat: segera."),
    ("sla_warning", {"clock": "acknowledgement", "percent": 50, "deadline": "2026-04-16T10:00:00+08:00"},
     "Waktu konfirmasi sudah terpakai 50%: Desa Bengkala", "Paling lambat: Kam, 16 Apr 2026 10.00 WITA."),
    ("sla_escalated_piket", {"clock": "acknowledgement", "level": 1, "due_at": "2026-04-16T18:00:00+08:00"},
     "Piket: tenggat konfirmasi terlewati di Desa Bengkala", "Anda petugas piket"),
    ("something_new", {}, "Kasus di Desa Bengkala: something new", "buka kasusnya"),
])
def test_every_kind_of_notice_says_what_happened_what_to_do_and_by_when(kind, facts, subject, expected) -> None:
    title, body = notices.render(_notice(kind, **facts), CTX, URL)
    assert title == f"[ADU-000000000001] {subject}"
    assert expected in body and "Paling lambat: " in body and body.endswith(URL)


def test_a_sensitive_category_is_named_nowhere() -> None:
    for kind in ("assigned", "sla_escalated", "needs_attention"):
        for language in i18n.LANGUAGES:
            subject, body = notices.render(_notice(kind, clock="acknowledgement", level=1), CTX, URL,
                                           hide_category=True, language=language)
            assert "Penyandang Disabilitas" not in subject + body and "penyandang" not in (subject + body).lower()
            assert "Desa Bengkala" in body and URL in body


def test_notices_in_english() -> None:
    subject, body = notices.render(_notice("assigned"), CTX, URL, language="en")
    assert subject == "[ADU-000000000001] New case in Desa Bengkala"
    assert "Expected of you: acknowledge the case and plan the field visit." in body
    assert "By: Thu, 16 Apr 2026 16:00 WITA." in body


# ---- the pages ----

def test_the_pages_speak_the_configured_language() -> None:
    for language, words in (("id", ("Masuk", "Tempelkan token API Anda", 'lang="id"')),
                            ("en", ("Sign in", "Paste your API token", 'lang="en"'))):
        templates = build_templates(480, language)
        html = templates.env.get_template("signin.html").render(next="/kasus", message=None, me=None)
        assert all(word in html for word in words), language
        worklist = templates.env.get_template("worklist.html").render(rows=[], finished=False, me=None)
        assert ("0 kasus yang masih berjalan" if language == "id" else "0 cases still open") in worklist


def test_a_sensitive_category_reads_as_protected_in_what_the_web_ui_shows():
    intake = make_intake(category="orang_dengan_hiv_aids")
    shown = [presentation.static_summary(intake), presentation.static_details("ADU-0123456789AB", intake),
             presentation.shown_category("orang_dengan_hiv_aids")]
    for text in shown:
        assert "HIV" not in text and "orang_dengan_hiv_aids" not in text
    assert presentation.shown_category("orang_dengan_hiv_aids") == "Kategori dilindungi (Bidang Rehabilitasi Sosial)"
    assert presentation.shown_category("lanjut_usia_telantar") == "Lanjut Usia Telantar"
