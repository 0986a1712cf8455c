"""What every case shares in a worker process: pydantic type adapters, and memos of deadlines and of formatted
moments. Shared is only safe when it is exact: the same answers as computing afresh, kept apart by content."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from casework.converter import CasePayloadConverter
from referral import calendar as cal
from referral.holiday_source import build_calendar
from referral.i18n import translator
from referral.models import Receipt

T0 = datetime(2027, 8, 9, 1, 30, tzinfo=timezone.utc)  # Monday 9 August 2027, 09:30 WITA


def test_every_converter_shares_one_json_converter_and_round_trips():
    first, second = CasePayloadConverter(), CasePayloadConverter()
    assert first.converters[b"json/plain"] is second.converters[b"json/plain"]  # one adapter cache per process
    receipt = Receipt.model_validate({"complaint_id": "ADU-1", "status": "received", "pendamping_id": "PD-34"})
    payloads = first.to_payloads([receipt, {"a": [1, 2]}, None, b"raw"])
    assert second.from_payloads(payloads, [Receipt, dict, type(None), bytes]) == [receipt, {"a": [1, 2]}, None, b"raw"]


def test_a_remembered_deadline_is_the_one_computed_afresh():
    calendar = build_calendar(2027)
    cal._ADVANCED.clear()
    for hours in (0, 1.5, 8, 40, 200):
        seconds = hours * 3600
        first = calendar.add_working_seconds(T0, seconds)
        assert calendar.add_working_seconds(T0, seconds) == first == calendar._add_working_seconds(T0, seconds)


def test_calendars_with_different_closures_never_share_a_remembered_deadline():
    plain = build_calendar(2027)
    closed = plain.model_copy(update={"non_working_days": tuple(sorted({*plain.non_working_days, date(2027, 8, 13)}))})
    assert plain.fingerprint != closed.fingerprint
    a_day = plain.office_seconds_per_day
    assert closed.add_working_seconds(T0, a_day) - plain.add_working_seconds(T0, a_day) >= timedelta(days=1)


def test_the_memo_forgets_everything_when_full():
    calendar = build_calendar(2027)
    cal._ADVANCED.clear()
    for minute in range(cal._ADVANCED_LIMIT + 5):
        calendar.add_working_seconds(T0 + timedelta(minutes=minute), 60)
    assert len(cal._ADVANCED) <= cal._ADVANCED_LIMIT


def test_a_formatted_moment_is_the_same_from_the_memo_and_in_each_language():
    assert translator("id").moment(T0) == translator("id").moment(T0.isoformat()) == "Sen, 9 Agu 2027 09.30 WITA"
    assert translator("en").moment(T0) == "Mon, 9 Aug 2027 09:30 WITA"
