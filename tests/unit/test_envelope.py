"""Envelope encryption of personal data (activities/envelope.py) and the pure rules of erasure: which event
fields are personal, when a case is due, when the schedule runs.

Run: .venv/bin/python -m pytest -q tests/unit/test_envelope.py
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from activities.envelope import (
    VALUE_PREFIX, CaseCipher, EnvelopeError, PersonalDataErased, TamperedValue, UnstorableValue, WrappedKey,
    WrappingKeyMissing, is_encrypted, new_data_key, rewrap, subject_hash_key, unwrap, wrap,
)
from activities.erasure_activities import (
    erase_after_years, erasure_schedule, finished_before, utc_run_time,
)
from activities.store.erasure import PersonalView, personal_detail_fields, sealed_detail
from activities.case_activities import subject_key
from casework.keys import Key, Keyring, new_key

CASE, OTHER = "ADU-0123456789AB", "ADU-BA9876543210"
SUBJECT = {"name": "Ketut Warga", "nik": "5108081507800001", "address": "Banjar Dinas Kelodan"}
WITA = timezone(timedelta(hours=8))


def ring(*keys: Key) -> Keyring:
    return Keyring(keys or (new_key("k1"),), "test")


def cipher_for(keyring: Keyring, complaint_id: str = CASE) -> tuple[CaseCipher, WrappedKey]:
    wrapped = wrap(keyring, complaint_id, new_data_key())
    return CaseCipher(complaint_id, unwrap(keyring, wrapped)), wrapped


# ---- values ----

@pytest.mark.parametrize("value", [SUBJECT, "Warga tuna rungu belum menerima alat bantu dengar.", "", ["a", 1], 42])
def test_a_value_round_trips_and_reads_as_ciphertext_only(value) -> None:
    cipher, _ = cipher_for(ring())
    token = cipher.encrypt(value, "complaints.subject")
    assert is_encrypted(token) and token.startswith(VALUE_PREFIX)
    assert "Ketut" not in token and "5108081507800001" not in token
    assert cipher.decrypt(token, "complaints.subject") == value
    assert cipher.encrypt(value, "complaints.subject") != token  # a fresh nonce each time


@pytest.mark.parametrize(("case", "location"), [
    (CASE, "complaints.reporter"),                               # another column of the same case
    (CASE, "complaint_events.detail.note|0004:assessed"),         # moved into the audit trail
    (OTHER, "complaints.subject"),                                # the same column of another case
])
def test_a_value_moved_to_another_place_is_refused(case: str, location: str) -> None:
    data_key = new_data_key()  # even under the same data key, the place is part of the ciphertext
    token = CaseCipher(CASE, data_key).encrypt(SUBJECT, "complaints.subject")
    with pytest.raises(TamperedValue, match="fails authentication") as refused:
        CaseCipher(case, data_key).decrypt(token, location)
    assert "Ketut" not in str(refused.value)


def test_an_event_note_swapped_between_events_is_refused() -> None:
    cipher, _ = cipher_for(ring())
    sealed = sealed_detail(cipher, {"note": "kunjungan rumah", "status": "ok"}, "0004:assessed")
    with pytest.raises(TamperedValue, match=r"complaint_events.detail.note\|0005:referred"):
        PersonalView(CASE, cipher).detail(sealed, "0005:referred", personal=True)
    assert PersonalView(CASE, cipher).detail(sealed, "0004:assessed", personal=True) == {
        "note": "kunjungan rumah", "status": "ok"}


@pytest.mark.parametrize("token", [VALUE_PREFIX + "%%%", VALUE_PREFIX + "AAAA", VALUE_PREFIX])
def test_damaged_ciphertext_is_refused_naming_the_place(token: str) -> None:
    cipher, _ = cipher_for(ring())
    with pytest.raises(TamperedValue, match="complaints.description"):
        cipher.decrypt(token, "complaints.description")


@pytest.mark.parametrize("value", ["Warga\x00 lansia", {"name": "a", "address": ["b\x00"]}, {"x\x00": 1}])
def test_what_postgres_refuses_in_clear_is_refused_encrypted_too(value) -> None:
    cipher, _ = cipher_for(ring())
    with pytest.raises(UnstorableValue, match=f"case {CASE}, complaints.description: contains a NUL character"):
        cipher.encrypt(value, "complaints.description")
    assert cipher.decrypt(cipher.encrypt("a\\u0000 b", "x"), "x") == "a\\u0000 b"  # an escape written out is text


def test_a_clear_value_is_not_decrypted_but_read_as_written() -> None:
    cipher, _ = cipher_for(ring())
    with pytest.raises(EnvelopeError, match="not an encrypted value"):
        cipher.decrypt("Warga lansia", "complaints.description")
    assert cipher.opened("Warga lansia", "complaints.description") == "Warga lansia"
    assert PersonalView(CASE).open({"name": "lama"}, "complaints.subject") == {"name": "lama"}  # before 009


# ---- wrapped keys and rotation ----

def test_a_data_key_unwraps_after_a_keyring_rotation_and_rewraps_under_the_newest() -> None:
    old = new_key("2026-05")
    before = ring(old)
    cipher, wrapped = cipher_for(before)
    token = cipher.encrypt(SUBJECT, "complaints.subject")
    rotated = before.rotated(new_key("2026-11"))
    assert rotated.encrypting.key_id == "2026-11" and wrapped.wrapping_key_id == "2026-05"
    reopened = CaseCipher(CASE, unwrap(rotated, wrapped))
    assert reopened.decrypt(token, "complaints.subject") == SUBJECT
    assert wrap(rotated, OTHER, new_data_key()).wrapping_key_id == "2026-11"  # new cases: the newest key
    moved = rewrap(rotated, wrapped)
    assert moved.wrapping_key_id == "2026-11"
    without_old = Keyring((rotated.keys[1],), "old key retired")
    assert CaseCipher(CASE, unwrap(without_old, moved)).decrypt(token, "complaints.subject") == SUBJECT
    # The old key kept decrypt-only still unwraps what it wrapped.
    decrypt_only = Keyring((replace(old, decrypt_only=True), rotated.keys[1]), "decrypt-only")
    assert unwrap(decrypt_only, wrapped) == unwrap(rotated, wrapped)


def test_a_missing_wrapping_key_names_it_and_is_retried_not_final() -> None:
    _, wrapped = cipher_for(ring(new_key("2026-05")))
    with pytest.raises(WrappingKeyMissing, match=r"keyring key '2026-05'.*holds 2026-11") as missing:
        unwrap(ring(new_key("2026-11")), wrapped)
    assert not isinstance(missing.value, ValueError)  # activities.errors would make a ValueError final


def test_a_wrapped_key_moved_to_another_case_or_under_another_secret_is_refused() -> None:
    keyring = ring(new_key("k1"))
    _, wrapped = cipher_for(keyring)
    with pytest.raises(EnvelopeError, match=f"case {OTHER}: the wrapped data key fails authentication"):
        unwrap(keyring, replace(wrapped, complaint_id=OTHER))
    with pytest.raises(EnvelopeError, match="fails authentication under keyring key 'k1'"):
        unwrap(ring(new_key("k1")), wrapped)  # same id, another secret


def test_an_erased_key_is_a_clear_error_and_reads_as_erased() -> None:
    at = datetime(2031, 12, 2, 2, 0, tzinfo=timezone.utc)
    gone = WrappedKey(CASE, None, None, erased_at=at)
    with pytest.raises(PersonalDataErased, match=f"personal data of case {CASE} was erased on 2031-12-02"):
        unwrap(ring(), gone)
    assert isinstance(PersonalDataErased(CASE, at), LookupError)  # final for an activity, never retried
    view = PersonalView(CASE, erased_at=at)
    assert view.open(VALUE_PREFIX + "AAAA", "complaints.subject") is None
    assert view.open({"name": "ditulis sebelum 009"}, "complaints.subject") is None
    assert view.detail({"note": VALUE_PREFIX + "x", "reason": "duplicate", "status": "ok"}, "k", personal=True) == {
        "note": None, "reason": "duplicate", "status": "ok"}


# ---- the duplicate hash ----

def test_the_subject_hash_key_comes_from_the_oldest_key_and_survives_rotation() -> None:
    first = new_key("2026-05")
    before = ring(first)
    after = before.rotated(new_key("2026-11"))
    assert subject_hash_key(after) == subject_hash_key(before)
    assert subject_hash_key(ring(new_key("2026-05"))) != subject_hash_key(before)  # a different secret
    assert subject_hash_key(before) != first.secret  # derived, never the keyring secret itself
    nik = subject_key("5108081507800001", "Ketut", None, subject_hash_key(before))
    assert nik == subject_key("5108081507800001", "Ketut", None, subject_hash_key(after))
    assert nik != subject_key("5108081507800001", "Ketut", None, "a salt")


# ---- which detail fields are personal ----

@pytest.mark.parametrize(("detail", "personal"), [
    ({"note": "kunjungan rumah", "category": "fakir_miskin"}, ["note"]),
    ({"bidang": "rehabilitasi_sosial", "plan": "alat bantu dengar", "note": None}, ["plan"]),
    ({"reason": "duplicate", "duplicate_of": "ADU-1", "note": ""}, []),             # a rejection code
    ({"pendamping_id": "PD-36", "reason": "backup_same_kecamatan"}, []),            # a routing code
    ({"pendamping_id": "PD-36", "reason": "sakit, diganti sementara"}, ["reason"]),  # a supervisor's note
    ({"clock": "verification", "by": "2 working_days", "reason": "menunggu dokumen"}, ["reason"]),
    ({"partner": "RSJ_BALI", "need": "perawatan jiwa", "n": 2}, ["need"]),
    ({"partner": "DISDUKCAPIL", "provided": "KTP-el", "note": "lewat telepon", "nik_recorded": True},
     ["note", "provided"]),
    ({"referrals": [{"n": 1}], "reason": "no_nik"}, []),
    ({"clock": "acknowledgement", "milestone": "breach", "escalated_to": "KABID-PJS"}, []),
])
def test_personal_detail_fields(detail: dict, personal: list[str]) -> None:
    assert sorted(personal_detail_fields(detail)) == sorted(personal)


def test_personal_false_hides_free_text_and_keeps_the_rest() -> None:
    cipher, _ = cipher_for(ring())
    sealed = sealed_detail(cipher, {"note": "rahasia", "reason": "out_of_area", "status": "ok"}, "0009:rejected")
    assert is_encrypted(sealed["note"]) and sealed["reason"] == "out_of_area"
    assert PersonalView(CASE, cipher).detail(sealed, "0009:rejected", personal=False) == {
        "note": None, "reason": "out_of_area", "status": "ok"}


# ---- retention and the schedule ----

@pytest.mark.parametrize(("environ", "years"), [({}, 5), ({"REFERRAL_ERASE_AFTER_YEARS": " 10 "}, 10),
                                                 ({"REFERRAL_ERASE_AFTER_YEARS": "1"}, 1)])
def test_erase_after_years(environ: dict, years: int) -> None:
    assert erase_after_years(environ) == years


@pytest.mark.parametrize(("raw", "message"), [("0", "between 1 and 100"), ("five", "a whole number of years"),
                                              ("2.5", "a whole number"), ("101", "between 1 and 100")])
def test_a_bad_erase_after_years_names_the_setting(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"REFERRAL_ERASE_AFTER_YEARS=.*{message}"):
        erase_after_years({"REFERRAL_ERASE_AFTER_YEARS": raw})


@pytest.mark.parametrize(("as_of", "years", "due"), [
    (datetime(2031, 12, 2, 2, 0, tzinfo=WITA), 5, datetime(2026, 12, 2, 2, 0, tzinfo=WITA)),
    (datetime(2032, 2, 29, 2, 0, tzinfo=WITA), 5, datetime(2027, 2, 28, 2, 0, tzinfo=WITA)),  # leap day
    (datetime(2032, 2, 29, 2, 0, tzinfo=WITA), 4, datetime(2028, 2, 29, 2, 0, tzinfo=WITA)),
    (datetime(2031, 1, 1, 0, 0, tzinfo=timezone.utc), 1, datetime(2030, 1, 1, 0, 0, tzinfo=timezone.utc)),
])
def test_finished_before(as_of: datetime, years: int, due: datetime) -> None:
    assert finished_before(as_of, years) == due


@pytest.mark.parametrize(("offset", "utc"), [(480, (18, 0)), (420, (19, 0)), (540, (17, 0)), (0, (2, 0)),
                                             (-300, (7, 0)), (330, (20, 30))])
def test_the_schedule_runs_at_two_in_the_morning_office_time(offset: int, utc: tuple[int, int]) -> None:
    assert utc_run_time((2, 0), offset) == utc
    calendar = erasure_schedule("referral", offset).spec.calendars[0]
    assert (calendar.hour[0].start, calendar.minute[0].start) == utc


def test_the_schedule_starts_one_erasure_at_a_time_on_the_task_queue() -> None:
    schedule = erasure_schedule("referral-x", 480)
    assert schedule.action.id == "referral-erasure" and schedule.action.task_queue == "referral-x"
    assert schedule.action.workflow == "ErasureWorkflow"
    assert schedule.policy.overlap.name == "SKIP" and schedule.policy.catchup_window == timedelta(days=1)
