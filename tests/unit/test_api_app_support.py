"""The door's pure pieces: error lines, update ids, CSRF and Origin, what counts as "down", worklist
order, the policy's case facts, page forms, labels and office time."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import asyncpg
import pytest
from fastapi import HTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.pages import STATUS, detail_lines, label, office_time, village_label
from api.principal import OfficerPrincipal, PartnerPrincipal, ServicePrincipal
from api.routes_actions import BODIES
from api.routes_case_page import form_body
from api.routes_complaints import sender_of
from api.routes_me import worklist_query
from api.routes_pages import safe_next
from api.routes_person import has_notes, with_notes
from api.routes_support import (
    access_of, access_of_row, actor_of, csrf_ok, csrf_token, problem_lines, same_origin, sorted_worklist,
    unavailable_kind, update_id,
)
from referral.models import CaseView, TimelineEntry
from referral.sealing import seal_text

PD34 = OfficerPrincipal(officer_id="PD-34", role="pendamping", bidang="perlindungan_jaminan_sosial", token_id="t1")
KADIS = OfficerPrincipal(officer_id="KADIS", role="kepala_dinas")
SERVICE = ServicePrincipal(service_id="puskesos-bengkala", channels=frozenset({"puskesos"}))
PARTNER = PartnerPrincipal(partner_code="RSJ-BALI")


def test_problem_lines_drop_the_request_part_and_name_the_actor_rule():
    errors = [
        {"loc": ("body", "plan"), "msg": "Field required", "type": "missing"},
        {"loc": ("query", "limit"), "msg": "Input should be less than or equal to 1000", "type": "less_than_equal"},
        {"loc": ("body", "actor"), "msg": "Extra inputs are not permitted", "type": "extra_forbidden"},
        {"loc": ("body", "by"), "msg": "Value error, '2 weeks' is not a duration", "type": "value_error"},
        {"loc": ("body",), "msg": "Input should be an object", "type": "model_type"},
    ]
    assert problem_lines(errors) == [
        "plan: Field required", "limit: Input should be less than or equal to 1000",
        "actor: pelaku diambil dari kredensial Anda; jangan kirim kolom ini", "by: '2 weeks' is not a duration",
        "(body): Input should be an object",
    ]
    assert problem_lines(errors[2:3], "en") == ["actor: the actor comes from your credential; do not send this field"]


def test_update_ids_are_scoped_by_caller_and_action():
    assert update_id(PD34, "pause", None) is None
    assert update_id(PD34, "pause", "k-1") == "officer:PD-34:pause:k-1"
    assert update_id(SERVICE, "pause", "k-1") == "service:puskesos-bengkala:pause:k-1"
    for bad in ("", "with space", "x" * 101, "é"):
        with pytest.raises(HTTPException) as info:
            update_id(PD34, "pause", bad)
        assert info.value.status_code == 422
        assert info.value.detail["problems"][0].startswith("Idempotency-Key: ")


def test_csrf_tokens_are_bound_to_the_session_credential():
    token = csrf_token("secret-0123456789abcdef", "rjk_a")
    assert csrf_ok("secret-0123456789abcdef", "rjk_a", token)
    assert not csrf_ok("secret-0123456789abcdef", "rjk_b", token)
    assert not csrf_ok("another-secret-0123456789", "rjk_a", token)
    assert not csrf_ok("secret-0123456789abcdef", None, token)
    assert not csrf_ok("secret-0123456789abcdef", "rjk_a", None)


@pytest.mark.parametrize(("origin", "host", "same"), [
    (None, "127.0.0.1:8000", True),  # no Origin (an old browser, curl): the CSRF token decides
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
    ("https://rujukan.bulelengkab.go.id", "rujukan.bulelengkab.go.id", True),
    ("https://evil.example", "127.0.0.1:8000", False),
    ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),
    ("http://127.0.0.1:8000", None, False),
])
def test_same_origin(origin, host, same):
    assert same_origin(origin, host) is same


@pytest.mark.parametrize(("error", "kind"), [
    (RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b""), "temporal"),
    (RPCError("deadline", RPCStatusCode.DEADLINE_EXCEEDED, b""), "temporal"),
    (RPCError("not found", RPCStatusCode.NOT_FOUND, b""), None),
    (RuntimeError("Failed client connect: Server connection error"), "temporal"),
    (RuntimeError("something else"), None),
    (ConnectionRefusedError(111, "refused"), "database"),
    (OSError("Multiple exceptions: [Errno 111] Connect call failed"), "database"),
    (asyncpg.CannotConnectNowError("starting up"), "database"),
    (asyncpg.TooManyConnectionsError("too many"), "database"),
    (ValueError("bug"), None),
])
def test_what_counts_as_a_dependency_down(error, kind):
    assert unavailable_kind(error) == kind


def test_the_worklist_puts_breached_first_then_the_nearest_deadline():
    rows = [
        {"complaint_id": "A", "sla_breached": False, "next_deadline": "2026-12-02T00:45:00+00:00"},
        {"complaint_id": "B", "sla_breached": False, "next_deadline": None},
        {"complaint_id": "C", "sla_breached": True, "next_deadline": "2026-12-05T00:00:00+00:00"},
        {"complaint_id": "D", "sla_breached": False, "next_deadline": "2026-12-01T09:00:00+08:00"},
        {"complaint_id": "E", "sla_breached": True, "next_deadline": None},
    ]
    assert [r["complaint_id"] for r in sorted_worklist(rows)] == ["C", "E", "D", "A", "B"]


def _view(**extra: Any) -> CaseView:
    values: dict[str, Any] = dict(
        complaint_id="ADU-0123456789AB", status="assigned", pendamping_id="PD-34", escalation_level=0,
        sla_breached=False, next_deadline=None, village_code="51.08.08.2010", village="Desa Bengkala",
        kecamatan="Kubutambahan", category="penyandang_disabilitas", bidang="rehabilitasi_sosial",
        pendamping_bidang="perlindungan_jaminan_sosial", urgency="normal", channel="puskesos", policy_version="1",
        calendar_version="1", clocks=[], timeline=[])
    values.update(extra)
    return CaseView(**values)


def test_case_facts_come_from_the_view_and_the_search_attributes():
    row = {"involved_bidang": ["rehabilitasi_sosial", "perlindungan_jaminan_sosial"], "submitted_by": "",
           "referral_partners": ["RSJ-BALI"]}
    access = access_of(_view(), row)
    assert (access.status, access.pendamping_id, access.bidang, access.pendamping_bidang) == (
        "assigned", "PD-34", "rehabilitasi_sosial", "perlindungan_jaminan_sosial")
    assert access.submitted_by is None and access.referral_partners == frozenset({"RSJ-BALI"})
    listed = access_of_row({"status": "referred", "pendamping_id": "PD-34", "bidang": "rehabilitasi_sosial",
                            "involved_bidang": ["rehabilitasi_sosial"], "submitted_by": "puskesos-bengkala"})
    assert (listed.status, listed.submitted_by, listed.involved_bidang) == (
        "referred", "puskesos-bengkala", frozenset({"rehabilitasi_sosial"}))


def test_actors_and_senders_come_from_the_credential():
    assert actor_of(PD34).model_dump() == {"id": "PD-34", "role": "pendamping", "bidang": "perlindungan_jaminan_sosial"}
    assert actor_of(PARTNER).model_dump() == {"id": "RSJ-BALI", "role": "partner", "bidang": None}
    assert actor_of(SERVICE).role == "service"
    assert sender_of(SERVICE) == "puskesos-bengkala"
    assert sender_of(PD34) == "officer:PD-34"


def test_notes_are_opened_with_the_key_or_hidden():
    sealed = seal_text("Warga tinggal sendiri", "key-1")
    case = _view(timeline=[TimelineEntry(at=datetime(2026, 11, 26, tzinfo=timezone.utc), event="acknowledged",
                                         actor="PD-34", detail={"note": sealed, "status": "ok"})])
    assert has_notes(case) and not has_notes(_view())
    assert with_notes(case, "key-1").timeline[0].detail == {"note": "Warga tinggal sendiri", "status": "ok"}
    assert with_notes(case, None, shown=False).timeline[0].detail == {"note": None, "status": "ok"}
    assert with_notes(case, "another-key").timeline[0].detail["note"] is None


def test_notes_in_clear_under_the_codec_are_personal_too():
    """Since the codec encrypts payloads, officers' texts travel in clear inside them: still hidden from
    those not entitled, shown as they are to those who are."""
    case = _view(timeline=[TimelineEntry(at=datetime(2026, 11, 26, tzinfo=timezone.utc), event="refused",
                                         actor="PD-34", detail={"reason": "tidak di rumah", "plan": "datang lagi",
                                                                "status": "ok"})])
    assert has_notes(case)
    assert with_notes(case, None, shown=False).timeline[0].detail == {"reason": None, "plan": None, "status": "ok"}
    assert with_notes(case, None).timeline[0].detail == {"reason": "tidak di rumah", "plan": "datang lagi", "status": "ok"}


def test_action_bodies_never_hold_the_actor():
    assert set(BODIES["acknowledge"].model_fields) == {"note"}
    assert set(BODIES["reassign"].model_fields) == {"note", "pendamping_id"}
    assert set(BODIES["extend"].model_fields) == {"note", "clock", "by", "reason"}
    assert all("actor" not in body.model_fields for body in BODIES.values())


@pytest.mark.parametrize(("action", "form", "body"), [
    ("acknowledge", {"note": "  ", "csrf": "x", "kunci": "k"}, {}),
    ("acknowledge", {"note": " siap "}, {"note": "siap"}),
    ("assess", {"category": "penyandang_disabilitas", "perlu_investigasi": "ya"},
     {"category": "penyandang_disabilitas", "needs_investigation": True, "verified": True}),
    ("assess", {"tidak_terverifikasi": "ya"}, {"needs_investigation": False, "verified": False}),
    ("refer", {"plan": "alat bantu dengar", "note": ""}, {"plan": "alat bantu dengar"}),
    ("reassign", {"pendamping_id": "PD-33"}, {"pendamping_id": "PD-33"}),
    ("extend", {"clock": "verification", "jumlah": "2", "satuan": "working_days", "reason": "hujan"},
     {"clock": "verification", "by": "2 working_days", "reason": "hujan"}),
    ("extend", {"clock": "verification", "jumlah": "", "satuan": "working_days"}, {"clock": "verification"}),
])
def test_page_forms_become_action_bodies(action, form, body):
    assert form_body(action, form) == body


@pytest.mark.parametrize(("sent", "kept"), [
    ("/kasus/ADU-0123456789AB", "/kasus/ADU-0123456789AB"), ("//evil.example/x", "/kasus"),
    ("https://evil.example", "/kasus"), ("/\\evil.example", "/kasus"), (None, "/kasus"), ("", "/kasus"),
])
def test_only_a_path_on_this_site_is_a_place_to_go_after_signing_in(sent, kept):
    assert safe_next(sent) == kept


def test_office_time_is_shown_in_wita_in_indonesian():
    moment = datetime(2026, 3, 25, 2, 0, tzinfo=timezone.utc)
    assert office_time(moment) == "Rab, 25 Mar 2026 10.00 WITA"
    assert office_time("2026-03-25T02:00:00+00:00") == "Rab, 25 Mar 2026 10.00 WITA"
    assert office_time(moment, 420) == "Rab, 25 Mar 2026 09.00 WIB"
    assert office_time(None) == "—"


def test_labels_fall_back_to_the_code():
    assert label(STATUS, "acknowledged") == "Dikonfirmasi"
    assert label(STATUS, "something_new") == "something new"
    assert village_label("51.08.08.2010") == "Desa Bengkala, Kec. Kubutambahan"
    assert village_label("51.08.99.9999") == "51.08.99.9999"
    lines = detail_lines({"outcome": "service_provided", "clock": "verification", "secret_hash": "x", "note": None,
                          "deadline": "2026-03-25T02:00:00+00:00"}, 480)
    assert lines == [("Hasil", "Layanan diberikan"), ("Jam", "Verifikasi (kunjungan lapangan)"),
                     ("Tenggat baru", "Rab, 25 Mar 2026 10.00 WITA")]


def test_the_worklist_query_is_scoped_and_open_cases_only():
    assert worklist_query(PD34) == ("WorkflowType = 'ComplaintWorkflow' AND PendampingId = 'PD-34'"
                                    " AND ComplaintStatus NOT IN ('closed', 'rejected', 'joined')")
    assert worklist_query(KADIS, include_finished=True) == "WorkflowType = 'ComplaintWorkflow'"
    assert "SubmittedBy = 'puskesos-bengkala'" in worklist_query(SERVICE)


async def test_an_unexpected_failure_is_our_500_and_its_message_stays_out_of_the_log(caplog):
    import logging
    from types import SimpleNamespace

    import httpx
    from fastapi import FastAPI

    from api.app import ErrorFenceMiddleware

    app = FastAPI()
    app.state.door = SimpleNamespace(language="id")

    @app.get("/v1/boom")
    async def boom() -> None:
        raise KeyError("Zzyzx 5108081507800001")

    app.add_middleware(ErrorFenceMiddleware)
    caplog.set_level(logging.INFO, logger="api")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get("/v1/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "Terjadi kesalahan di server; kesalahan ini telah dicatat (nomor permintaan -)."}
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "request failed"]
    assert logged and logged[0]["error"] == "KeyError" and "test_api_app_support.py" in logged[0]["where"]
    assert "Zzyzx" not in caplog.text


def test_a_database_without_tables_is_503_not_a_crash():
    assert unavailable_kind(asyncpg.UndefinedTableError("relation \"api_tokens\" does not exist")) == "schema"
