"""The worklist pages' presentation: templates, Indonesian labels, office-time formatting, responses.

Everything an officer reads here is in Bahasa Indonesia; codes (status, actions, events, clocks)
get their label from the tables below and fall back to the code itself. Times are shown in the
office's zone (WITA by default, REFERRAL_UTC_OFFSET_MINUTES).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from referral import reference

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
ZONE_NAMES = {420: "WIB", 480: "WITA", 540: "WIT"}

STATUS = {
    "received": "Diterima", "assigned": "Ditugaskan", "acknowledged": "Dikonfirmasi", "assessed": "Diasesmen",
    "referred": "Dirujuk", "resolved": "Ditangani", "closed": "Ditutup", "rejected": "Ditolak",
}
ACTIONS = {
    "acknowledge": "Konfirmasi penerimaan kasus", "assess": "Catat hasil asesmen", "refer": "Rujuk ke bidang",
    "resolve": "Nyatakan selesai ditangani", "close": "Tutup kasus", "reject": "Tolak kasus",
    "reassign": "Alihkan ke pendamping lain", "reopen": "Buka kembali kasus", "pause": "Tunda (hentikan jam SLA)",
    "resume": "Lanjutkan jam SLA", "extend": "Perpanjang tenggat", "change_policy": "Terapkan kebijakan SLA terbaru",
    "retry": "Ulangi langkah yang gagal",
}
EVENTS = {
    "received": "Pengaduan diterima", "assigned": "Ditugaskan ke pendamping", "acknowledged": "Kasus dikonfirmasi",
    "assessed": "Asesmen dicatat", "referred": "Dirujuk ke bidang", "resolved": "Selesai ditangani",
    "closed": "Kasus ditutup", "rejected": "Kasus ditolak", "reassigned": "Dialihkan ke pendamping lain",
    "reopened": "Kasus dibuka kembali", "paused": "Jam SLA ditunda", "resumed": "Jam SLA dilanjutkan",
    "extended": "Tenggat diperpanjang", "policy_changed": "Kebijakan SLA diganti", "retried": "Langkah diulang",
    "sla_warning": "Peringatan tenggat", "sla_escalated": "Tenggat terlewati: eskalasi",
    "needs_attention": "Perlu perhatian",
}
CLOCKS = {
    "acknowledgement": "Konfirmasi", "verification": "Verifikasi (kunjungan lapangan)",
    "follow_up_plan": "Rencana tindak lanjut", "completion": "Penyelesaian", "overall": "Keseluruhan",
}
CLOCK_STATES = {"running": "berjalan", "paused": "ditunda", "stopped": "berhenti"}
URGENCY = {"normal": "Biasa", "urgent": "Mendesak", "emergency": "Darurat"}
OUTCOMES = {
    "service_provided": "Layanan diberikan", "social_assistance": "Bantuan sosial", "referred_external":
    "Dirujuk ke lembaga lain", "institutional_care": "Perawatan di panti/lembaga", "not_eligible": "Tidak memenuhi syarat",
    "subject_unreachable": "Warga tidak dapat ditemui",
}
REJECT_REASONS = {"out_of_area": "Di luar wilayah", "duplicate": "Pengaduan ganda", "not_ppks": "Bukan PPKS"}
UNITS = {"working_days": "hari kerja", "working_hours": "jam kerja", "calendar_days": "hari kalender",
         "calendar_hours": "jam kalender"}
SEX = {"male": "Laki-laki", "female": "Perempuan"}
ROLES = {"pendamping": "Pendamping", "head_of_bidang": "Kepala bidang", "kepala_dinas": "Kepala dinas"}
# Why a person's data is opened (UU PDP: every read names its purpose); the first is the default.
PURPOSES = ("kunjungan lapangan", "verifikasi data", "menyusun rujukan", "menghubungi pelapor",
            "menjawab pertanyaan warga")
DETAIL_LABELS = {"note": "Catatan", "plan": "Rencana", "reason": "Alasan", "outcome": "Hasil", "category": "Kategori",
                 "pendamping_id": "Pendamping", "clock": "Jam", "by": "Tambahan", "deadline": "Tenggat baru",
                 "escalated_to": "Dieskalasi ke", "duplicate_of": "Duplikat dari", "status": "Status",
                 "step": "Langkah", "problem": "Masalah"}


def label(table: dict[str, str], code: Any) -> str:
    return table.get(str(code), str(code).replace("_", " ")) if code is not None else "—"


def office_time(at: datetime | str | None, offset_minutes: int = 480) -> str:
    """'Rab, 25 Mar 2026 10.00 WITA' in the office's zone."""
    if at is None or at == "":
        return "—"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    zone = timezone(timedelta(minutes=offset_minutes))
    name = ZONE_NAMES.get(offset_minutes, f"UTC{offset_minutes / 60:+g}")
    return f"{format_datetime(moment, 'EEE, d MMM y HH.mm', tzinfo=zone, locale='id')} {name}"


def village_label(code: str | None) -> str:
    village = reference.villages().get(code or "")
    return f"{village.label}, Kec. {village.kecamatan}" if village else (code or "—")


def category_name(code: str | None) -> str:
    category = reference.categories().get(code or "")
    return category.name if category else (code or "—")


def bidang_name(code: str | None) -> str:
    return reference.bidang_names().get(code or "", code or "—")


def detail_lines(detail: dict[str, Any], offset_minutes: int) -> list[tuple[str, str]]:
    """The parts of a timeline entry's detail an officer reads, labelled."""
    lines = []
    for key, value in detail.items():
        if key not in DETAIL_LABELS or value in (None, "", [], {}):
            continue
        if key == "outcome":
            value = label(OUTCOMES, value)
        elif key == "clock":
            value = label(CLOCKS, value)
        elif key == "category":
            value = category_name(value)
        elif key == "deadline":
            value = office_time(value, offset_minutes)
        lines.append((DETAIL_LABELS[key], str(value)))
    return lines


def build_templates(offset_minutes: int) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters.update(
        waktu=lambda at: office_time(at, offset_minutes), status=lambda c: label(STATUS, c),
        aksi=lambda c: label(ACTIONS, c), peristiwa=lambda c: label(EVENTS, c), jam=lambda c: label(CLOCKS, c),
        keadaan_jam=lambda c: label(CLOCK_STATES, c), urgensi=lambda c: label(URGENCY, c),
        desa=village_label, kategori=category_name, bidang=bidang_name, kelamin=lambda c: label(SEX, c),
        peran=lambda c: label(ROLES, c), rincian=lambda d: detail_lines(d or {}, offset_minutes),
    )
    env.globals.update(OUTCOMES=OUTCOMES, REJECT_REASONS=REJECT_REASONS, UNITS=UNITS, CLOCKS=CLOCKS,
                       PURPOSES=PURPOSES)
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
