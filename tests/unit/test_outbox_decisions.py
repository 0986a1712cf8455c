"""The dispatcher's pure decisions, as tables: retries, dropped rows, order, STARTTLS, signatures, options."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from activities.notify import (
    NOT_CONFIGURED, NOT_ON_ROSTER, DispatchOptions, WebhookRejected, backoff, delivery_streams,
    failure_outcome, finished_case_reason, skip_reason, use_starttls, verify_webhook, webhook_request,
)
from activities.store.outbox import Claim, ClaimedNotification, Outcome

T0 = datetime(2026, 3, 17, 2, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def row(outbox_id: int = 1, **fields: Any) -> ClaimedNotification:
    base = dict(
        claim=Claim(outbox_id, uuid4()), claimed_until=T0 + MIN, complaint_id="ADU-1", event_key="004:referred",
        recipient_id="PD-34", channel="webhook", subject="Kasus", body="Isi", not_before=T0, attempts=0,
        recipient_email="pd34@dinsos.example", recipient_active=True, case_status="referred", case_finished_at=None,
        event="referred", event_occurred_at=T0,
    )
    base.update(fields)
    return ClaimedNotification(**base)


@pytest.mark.parametrize("attempts, delay", [
    (1, MIN), (2, 2 * MIN), (3, 4 * MIN), (6, 32 * MIN), (7, 60 * MIN), (30, 60 * MIN),
])
def test_backoff_doubles_up_to_an_hour(attempts: int, delay: timedelta) -> None:
    assert backoff(attempts) == delay


@pytest.mark.parametrize("before, max_attempts, expected", [
    (0, 8, Outcome("pending", 1, "E", not_before=T0 + MIN)),
    (1, 8, Outcome("pending", 2, "E", not_before=T0 + 2 * MIN)),
    (6, 8, Outcome("pending", 7, "E", not_before=T0 + 60 * MIN)),
    (7, 8, Outcome("failed", 8, "E")),
    (0, 1, Outcome("failed", 1, "E")),
])
def test_failure_outcome(before: int, max_attempts: int, expected: Outcome) -> None:
    assert failure_outcome(before, max_attempts, T0, "E") == expected


def test_failure_outcome_truncates_the_error() -> None:
    assert len(failure_outcome(0, 8, T0, "x" * 5000).last_error or "") == 1000


def test_outcome_refuses_incomplete_values() -> None:
    with pytest.raises(ValueError, match="sent_at"):
        Outcome("sent", 0)
    with pytest.raises(ValueError, match="not_before"):
        Outcome("pending", 1)


CLOSED_AT = T0 + timedelta(days=2)


@pytest.mark.parametrize("status, finished_at, event, occurred_at, reason", [
    ("referred", None, "referred", T0, None),  # open case: deliver
    ("resolved", None, "sla_warning", T0, None),
    ("closed", CLOSED_AT, "assigned", T0, "case closed before delivery"),
    ("closed", CLOSED_AT, "sla_escalation", CLOSED_AT - MIN, "case closed before delivery"),
    ("rejected", CLOSED_AT, "assigned", T0, "case rejected before delivery"),
    ("closed", CLOSED_AT, "closed", CLOSED_AT, None),  # the closing notice itself
    ("rejected", CLOSED_AT, "rejected", CLOSED_AT, None),
    ("closed", CLOSED_AT, "closed", T0, None),  # an earlier close's notice (closed, reopened, closed again)
    ("closed", CLOSED_AT, "note", CLOSED_AT, None),  # queued at the moment the case ended
    ("closed", CLOSED_AT, "note", CLOSED_AT + MIN, None),  # queued after
    ("closed", CLOSED_AT, None, None, "case closed before delivery"),  # its event row is missing
    ("closed", None, "assigned", T0, "case closed before delivery"),
])
def test_finished_case_reason(status: str, finished_at: datetime | None, event: str | None,
                              occurred_at: datetime | None, reason: str | None) -> None:
    assert finished_case_reason(status, finished_at, event, occurred_at) == reason


@pytest.mark.parametrize("fields, configured, reason", [
    ({}, True, None),
    ({}, False, NOT_CONFIGURED),
    ({"recipient_active": False}, True, NOT_ON_ROSTER),
    ({"recipient_active": False, "case_status": "closed", "case_finished_at": CLOSED_AT}, True, NOT_ON_ROSTER),
    ({"case_status": "closed", "case_finished_at": CLOSED_AT}, False, "case closed before delivery"),
    ({"case_status": "closed", "case_finished_at": CLOSED_AT, "event": "closed"}, False, NOT_CONFIGURED),
])
def test_skip_reason(fields: dict[str, Any], configured: bool, reason: str | None) -> None:
    assert skip_reason(row(**fields), configured) == reason


def test_delivery_streams_group_by_recipient_and_channel_in_order() -> None:
    rows = [
        row(5, recipient_id="KADIS", not_before=T0),
        row(2, recipient_id="PD-34", not_before=T0 + MIN),
        row(3, recipient_id="PD-34", not_before=T0),
        row(1, recipient_id="PD-34", not_before=T0),
        row(4, recipient_id="PD-34", channel="email", not_before=T0),
    ]
    streams = [[r.outbox_id for r in s] for s in delivery_streams(rows)]
    assert sorted(streams) == [[1, 3, 2], [4], [5]]


@pytest.mark.parametrize("offered, credentials, starttls", [
    (True, False, True), (True, True, True), (False, False, False),
])
def test_use_starttls(offered: bool, credentials: bool, starttls: bool) -> None:
    assert use_starttls(offered, credentials) is starttls


def test_credentials_never_go_over_plain_smtp() -> None:
    with pytest.raises(smtplib.SMTPNotSupportedError, match="REFERRAL_SMTP_PASSWORD"):
        use_starttls(False, True)


# ---- webhook signature ----

SECRET = "s3cret-shared-with-the-receiver"
NOW = int(T0.timestamp())


def receiver_check(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """A receiver written from the docs alone, with the standard library."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Referral-Signature"])


def test_signature_is_an_hmac_of_the_raw_body_that_covers_the_timestamp() -> None:
    body, headers = webhook_request(row(), SECRET, NOW)
    assert receiver_check(SECRET, body, headers)
    assert headers["X-Referral-Timestamp"] == str(NOW) == str(json.loads(body)["timestamp"])
    assert headers["Idempotency-Key"] == "ADU-1/004:referred/PD-34"
    assert verify_webhook(SECRET, body, headers, now=NOW + 10)["outbox_id"] == 1


def test_unsigned_without_a_secret() -> None:
    _, headers = webhook_request(row(), None, NOW)
    assert "X-Referral-Signature" not in headers and headers["X-Referral-Timestamp"] == str(NOW)


def _tampered_body(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], float]:
    return body.replace(b"Isi", b"Isu"), headers, NOW


def _wrong_secret(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], float]:
    return body, {**headers, "X-Referral-Signature": webhook_request(row(), "other", NOW)[1]["X-Referral-Signature"]}, NOW


def _fresh_header_on_old_body(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], float]:
    return body, {**headers, "X-Referral-Timestamp": str(NOW + 3600)}, NOW + 3600


def _replayed_later(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], float]:
    return body, headers, NOW + 301


def _unsigned(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], float]:
    return body, {k: v for k, v in headers.items() if k != "X-Referral-Signature"}, NOW


@pytest.mark.parametrize("attack, message", [
    (_tampered_body, "Signature does not match"),
    (_wrong_secret, "Signature does not match"),
    (_unsigned, "Signature does not match"),
    (_fresh_header_on_old_body, "differs from the signed body"),
    (_replayed_later, "a replay"),
])
def test_verify_webhook_refuses(attack: Any, message: str) -> None:
    body, headers = webhook_request(row(), SECRET, NOW)
    body, headers, now = attack(body, headers)
    with pytest.raises(WebhookRejected, match=message):
        verify_webhook(SECRET, body, headers, now=now)


def test_verify_webhook_reads_headers_in_any_case() -> None:
    body, headers = webhook_request(row(), SECRET, NOW)
    assert verify_webhook(SECRET, body, {k.lower(): v for k, v in headers.items()}, now=NOW)


# ---- options ----

def test_options_defaults_and_environment() -> None:
    default = DispatchOptions.from_env({})
    assert (default.batch_size, default.concurrency, default.poll_seconds, default.lease, default.max_attempts) == (
        100, 8, 2.0, timedelta(seconds=60), 8)
    assert default.heartbeat == timedelta(seconds=20) and default.webhook_secret is None
    custom = DispatchOptions.from_env({
        "REFERRAL_OUTBOX_BATCH_SIZE": "50", "REFERRAL_OUTBOX_CONCURRENCY": "4", "REFERRAL_OUTBOX_LEASE_SECONDS": "30",
        "REFERRAL_WEBHOOK_SECRET": "k", "REFERRAL_SMTP_USER": "u", "REFERRAL_SMTP_PASSWORD": "pw-SECRET",
    })
    assert (custom.batch_size, custom.concurrency, custom.lease, custom.webhook_secret) == (
        50, 4, timedelta(seconds=30), "k")
    assert (custom.smtp_user, custom.smtp_password) == ("u", "pw-SECRET") and "SECRET" not in repr(custom)
    assert replace(custom, renew_every=timedelta(seconds=1)).heartbeat == timedelta(seconds=1)


@pytest.mark.parametrize("environ, message", [
    ({"REFERRAL_OUTBOX_CONCURRENCY": "many"}, "REFERRAL_OUTBOX_CONCURRENCY must be a number"),
    ({"REFERRAL_OUTBOX_BATCH_SIZE": "0"}, "REFERRAL_OUTBOX_BATCH_SIZE must be at least 1"),
    ({"REFERRAL_OUTBOX_LEASE_SECONDS": "0.5"}, "REFERRAL_OUTBOX_LEASE_SECONDS must be at least 1"),
    ({"REFERRAL_SMTP_CA_FILE": "/nonexistent/ca.pem"}, "REFERRAL_SMTP_CA_FILE: cannot load"),
])
def test_options_name_the_bad_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DispatchOptions.from_env(environ)
