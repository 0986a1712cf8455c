"""SMTP delivery: STARTTLS when offered (self-signed cert made here), login only over TLS, pooled connections."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.test_outbox_support import (  # noqa: F401 (fixtures)
    Inbox, dispatcher, empty_outbox, open_case, outbox_url, pool, queue, rows_by_id, settings, smtp_server,
)

USER, PASSWORD = "rujukan", "kata-sandi-uji"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """What REFERRAL_SMTP_CA_FILE builds: verification on, with this CA trusted."""
    return ssl.create_default_context(cafile=str(certificate[0]))


def check_password(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


async def one_email(pool: asyncpg.Pool, complaint_id: str) -> int:
    await open_case(pool, complaint_id)
    [row_id] = await queue(pool, complaint_id, "001:assigned", channels=("email",))
    return row_id


async def test_starttls_when_the_server_offers_it(pool: asyncpg.Pool, certificate) -> None:
    await one_email(pool, "C-TLS")
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls(certificate)) as port:
        sender = dispatcher(pool, settings(smtp_port=port), smtp_tls=trusting(certificate))
        assert await sender.deliver_due() == 1
    [received] = inbox.received
    assert received["tls"] and received["login"] is None
    assert received["message"]["X-Referral-Event"] == "C-TLS/001:assigned"


async def test_login_happens_over_tls(pool: asyncpg.Pool, certificate) -> None:
    await one_email(pool, "C-AUTH")
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls(certificate), authenticator=check_password,
                     auth_required=True, auth_require_tls=True) as port:
        sender = dispatcher(pool, settings(smtp_port=port), smtp_tls=trusting(certificate),
                            smtp_user=USER, smtp_password=PASSWORD)
        assert await sender.deliver_due() == 1
    [received] = inbox.received
    assert received["tls"] and received["login"] == USER


async def test_plain_smtp_when_starttls_is_not_offered(pool: asyncpg.Pool) -> None:
    await one_email(pool, "C-PLAIN")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        assert await dispatcher(pool, settings(smtp_port=port)).deliver_due() == 1
    [received] = inbox.received
    assert not received["tls"]


async def test_a_password_is_never_sent_without_starttls(pool: asyncpg.Pool) -> None:
    row_id = await one_email(pool, "C-NOPW")
    inbox = Inbox()
    with smtp_server(inbox) as port:
        sender = dispatcher(pool, settings(smtp_port=port), smtp_user=USER, smtp_password=PASSWORD)
        assert await sender.deliver_due() == 0
    row = (await rows_by_id(pool))[row_id]
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "STARTTLS" in row["last_error"] and PASSWORD not in row["last_error"]
    assert not inbox.received


async def test_an_untrusted_certificate_is_refused(pool: asyncpg.Pool, certificate) -> None:
    row_id = await one_email(pool, "C-UNTRUSTED")
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls(certificate)) as port:
        assert await dispatcher(pool, settings(smtp_port=port)).deliver_due() == 0  # system CAs only
    row = (await rows_by_id(pool))[row_id]
    assert row["status"] == "pending" and row["last_error"].startswith("SSLCertVerificationError")
    assert not inbox.received


async def test_one_connection_carries_a_recipients_messages(pool: asyncpg.Pool) -> None:
    await open_case(pool, "C-POOL")
    for step in range(3):
        await queue(pool, "C-POOL", f"00{step}:sla_warning", channels=("email",))
    inbox = Inbox()
    with smtp_server(inbox) as port:
        assert await dispatcher(pool, settings(smtp_port=port)).deliver_due() == 3
    assert len(inbox.received) == 3 and len({m["peer"] for m in inbox.received}) == 1
