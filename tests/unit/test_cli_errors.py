"""The command line fails in one line with a documented exit code (casework/cli.py), and `--verbose`
shows the traceback. The table of exceptions is tested directly; each case a person meets is run as
`python starter.py …` in a child process, against closed ports and a fresh test database."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import asyncpg
import pytest
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from casework import cli
from referral.intake import IntakeError
from referral.reference import RosterError

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def starter(*args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "starter.py", *args], cwd=ROOT, input=stdin, capture_output=True,
                          timeout=60, env={**os.environ, "REFERRAL_CLI_LANG": "id", **env})


def assert_one_line(result: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    stderr = result.stderr.decode()
    assert result.returncode == code, stderr
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith("galat: ")
    for fragment in fragments:
        assert fragment in stderr, stderr
    return stderr


def assert_verbose(args: list[str], code: int, **env: str) -> None:
    result = starter("--verbose", *args, **env)
    stderr = result.stderr.decode()
    assert result.returncode == code and "Traceback (most recent call last)" in stderr, stderr
    assert stderr.splitlines()[-1].startswith("galat: ")


# ---- the exception table --------------------------------------------------------------------

class _Request(BaseModel):
    outcome: int


def _validation_error() -> ValidationError:
    try:
        _Request.model_validate({"outcome": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (cli.CliError(cli.NOT_FOUND, "case_not_found", id="ADU-0123456789AB"), 3, "kasus ADU-0123456789AB tidak ditemukan"),
        (cli.CliError(cli.NOT_FOUND, "officer_not_found", id="PD-99"), 3, "petugas PD-99 tidak ada di roster"),
        (cli.CliError(cli.REFUSED, "refused", detail="only the assigned pendamping (PD-34) can acknowledge"), 1,
         "ditolak: only the assigned pendamping (PD-34) can acknowledge"),
        (RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""), 3, "tidak ditemukan: workflow not found"),
        (RPCError("connection closed", RPCStatusCode.UNAVAILABLE, b""), 4, "Temporal tidak dapat dihubungi"),
        (RPCError("deadline", RPCStatusCode.DEADLINE_EXCEEDED, b""), 4, "Temporal tidak dapat dihubungi"),
        (RPCError("permission denied", RPCStatusCode.PERMISSION_DENIED, b""), 5, "kesalahan tak terduga (RPCError"),
        (RuntimeError("Failed client connect: Server connection error"), 4, "Temporal tidak dapat dihubungi"),
        (ConnectionRefusedError(111, "Connect call failed"), 4, "server tidak dapat dihubungi"),
        (socket.gaierror(-2, "Name or service not known"), 4, "server tidak dapat dihubungi"),
        (TimeoutError(), 4, "server tidak dapat dihubungi: TimeoutError"),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), 4, "server tidak dapat dihubungi"),
        (asyncpg.InvalidCatalogNameError('database "x" does not exist'), 4, 'database "x" does not exist'),
        (asyncpg.InvalidPasswordError("password authentication failed"), 4, "server tidak dapat dihubungi"),
        (FileNotFoundError(2, "No such file", "a.json"), 2, "berkas a.json tidak ditemukan"),
        (IsADirectoryError(21, "Is a directory", "var"), 2, "var adalah folder, bukan berkas"),
        (PermissionError(13, "Permission denied", "x.csv"), 2, "berkas x.csv tidak boleh dibuka"),
        (UnicodeDecodeError("utf-8", b"ab\xff", 2, 3, "invalid"), 2, "bukan teks UTF-8 (byte 0xff di posisi 2)"),
        (ValueError("REFERRAL_OFFICE_OPEN must be HH:MM, got '8'"), 2, "REFERRAL_OFFICE_OPEN must be HH:MM"),
        (KeyError("x"), 5, "kesalahan tak terduga (KeyError"),
        (asyncpg.UniqueViolationError("duplicate key"), 5, "kesalahan tak terduga (UniqueViolationError"),
        (KeyboardInterrupt(), 130, "dibatalkan"),
    ],
)
def test_failure_of(exc: BaseException, code: int, message: str) -> None:
    failure = cli.failure_of(exc)
    assert failure.code == code
    assert message in failure.message
    assert len(failure.lines()) == 1


def test_problems_get_one_line_each() -> None:
    failure = cli.failure_of(IntakeError(["village_code: not in Buleleng", "subject.nik: must be 16 digits"]))
    assert failure.code == 2
    assert failure.lines() == ["galat: pengaduan tidak sah:", "  - village_code: not in Buleleng",
                               "  - subject.nik: must be 16 digits"]
    single = cli.failure_of(IntakeError(["(document): not valid JSON: Expecting value"]))
    assert single.lines() == ["galat: pengaduan tidak sah: (document): not valid JSON: Expecting value"]
    roster = cli.failure_of(RosterError(["missing head_of_bidang for bidang x", "duplicate officer_id PD-01"]))
    assert roster.code == 2 and roster.lines()[0] == "galat: roster ditolak:"
    assert cli.failure_of(_validation_error()).lines() == [
        "galat: masukan tidak sah: outcome: Input should be a valid integer, unable to parse string as an integer"]


def test_a_message_with_line_breaks_stays_one_line() -> None:
    assert cli.failure_of(ValueError("first\nsecond\r\nthird")).lines() == ["galat: first second third"]


def test_english_on_request() -> None:
    failure = cli.failure_of(cli.CliError(cli.NOT_FOUND, "case_not_found", id="ADU-1"), lang="en")
    assert failure.lines("en") == ["error: case ADU-1 not found"]


def test_every_message_has_both_languages_and_the_docstring_lists_every_code() -> None:
    for key, (indonesian, english) in cli.MESSAGES.items():
        assert indonesian and english and re.findall(r"{(\w+)", indonesian) == re.findall(r"{(\w+)", english), key
    table = {int(m) for m in re.findall(r"^\| (\d+) \|", cli.__doc__, re.MULTILINE)}
    assert table == {cli.OK, cli.REFUSED, cli.BAD_INPUT, cli.NOT_FOUND, cli.UNREACHABLE, cli.UNEXPECTED, cli.INTERRUPTED}


def test_postgres_unreachable_never_shows_the_password() -> None:
    error = cli.postgres_unreachable("postgresql://app:s3cret@db.internal:6543/referral", OSError("refused"))
    text = cli.failure_of(error).lines()[0]
    assert text == "galat: PostgreSQL di db.internal:6543/referral tidak dapat dihubungi: refused"


def test_dates_in_order() -> None:
    cli.check_order("--from", date(2026, 4, 1), "--to", date(2026, 4, 1))
    with pytest.raises(cli.CliError) as info:
        cli.check_order("--from", date(2026, 4, 2), "--to", date(2026, 4, 1))
    assert info.value.code == 2


# ---- the commands, in a child process -------------------------------------------------------

VALID = {
    "channel": "puskesos",
    "reporter": {"name": "Kadek Pelapor", "phone": "081234567890", "relation": "puskesos"},
    "subject": {"name": "Ketut Warga", "nik": "5108081507800001", "sex": "male", "address": "Banjar Dinas Kelodan"},
    "village_code": "51.08.08.2010", "category": "penyandang_disabilitas",
    "description": "Warga tuna rungu wicara belum menerima alat bantu dengar.",
}


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "tidak-ada.json"
    assert_one_line(starter("submit", str(missing)), 2, f"berkas {missing} tidak ditemukan")
    assert_one_line(starter("roster", "import", str(missing), "--dry-run"), 2, "tidak ditemukan")
    assert_verbose(["submit", str(missing)], 2)


def test_a_folder_instead_of_a_file(tmp_path: Path) -> None:
    assert_one_line(starter("submit", str(tmp_path)), 2, "adalah folder")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"description": "Warga lansia, umur 80 tahun, tinggal di gubuk"} é'.encode("latin-1"))
    assert_one_line(starter("submit", str(path)), 2, f"{path} bukan teks UTF-8 (byte 0xe9")
    assert_one_line(starter("submit", "-", stdin=b"\xff\xfe{}"), 2, "stdin bukan teks UTF-8")
    assert_verbose(["submit", str(path)], 2)


def test_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "rusak.json"
    path.write_text('{"channel": "puskesos",')
    assert_one_line(starter("submit", str(path)), 2, "pengaduan tidak sah: (document): not valid JSON")
    assert_verbose(["submit", str(path)], 2)


def test_invalid_intake_names_every_field_one_line_each() -> None:
    bad = {**VALID, "village_code": "51.71.01.1001", "subject": {**VALID["subject"], "name": "Ketut\x00"}}
    result = starter("submit", "-", stdin=json.dumps(bad).encode(), TEMPORAL_ADDRESS=f"127.0.0.1:{closed_port()}")
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr.decode()
    assert lines[0] == "galat: pengaduan tidak sah:"
    assert [line.split(":")[0] for line in lines[1:]] == ["  - subject.name", "  - village_code", "  - reported_at"]


def test_from_after_to() -> None:
    assert_one_line(starter("report", "--from", "2026-05-01", "--to", "2026-04-01"), 2,
                    "--from 2026-05-01 jatuh setelah --to 2026-04-01")
    assert_one_line(starter("leave", "PD-35", "2026-12-12", "2026-12-01"), 2, "jatuh setelah")
    assert_verbose(["report", "--from", "2026-05-01", "--to", "2026-04-01"], 2)


def test_a_wrong_command_line_is_one_line() -> None:
    assert_one_line(starter("report", "--from", "2026-13-01", "--to", "2026-04-01"), 2, "'2026-13-01' bukan tanggal YYYY-MM-DD")
    assert_one_line(starter("leave", "PD-35"), 2, "required")
    assert_one_line(starter("bogus"), 2, "invalid choice")


def test_temporal_unreachable(tmp_path: Path) -> None:
    address = f"127.0.0.1:{closed_port()}"
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({**VALID, "reported_at": datetime.now(timezone.utc).isoformat()}))
    assert_one_line(starter("submit", str(path), TEMPORAL_ADDRESS=address), 4, f"Temporal di {address}")
    assert_one_line(starter("status", "ADU-0123456789AB", TEMPORAL_ADDRESS=address), 4,
                    f"Temporal di {address} tidak dapat dihubungi")
    assert_one_line(starter("list", TEMPORAL_ADDRESS=address), 4, address)
    assert_verbose(["status", "ADU-0123456789AB"], 4, TEMPORAL_ADDRESS=address)
    after = starter("status", "ADU-0123456789AB", "--verbose", TEMPORAL_ADDRESS=address)  # after the command too
    assert after.returncode == 4 and b"Traceback" in after.stderr


def test_postgres_unreachable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/referral"
    assert_one_line(starter("leave", "PD-35", "2026-12-01", "2026-12-12", DATABASE_URL=url), 4,
                    "PostgreSQL di 127.0.0.1:", "/referral tidak dapat dihubungi")
    assert_one_line(starter("act", "ADU-0123456789AB", "acknowledge", "--actor", "PD-34", DATABASE_URL=url), 4,
                    "PostgreSQL di")
    assert_verbose(["leave", "PD-35", "2026-12-01", "2026-12-12"], 4, DATABASE_URL=url)


def test_database_url_not_set(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "", "REFERRAL_DATA_DIR": str(tmp_path)}  # and no dev database to fall back on
    assert_one_line(starter("leave", "PD-35", "2026-12-01", "2026-12-12", **env), 2, "DATABASE_URL belum diatur")


def test_unknown_officer(db_url: str) -> None:
    result = starter("leave", "PD-99", "2026-12-01", "2026-12-12", "--reason", "cuti", DATABASE_URL=db_url)
    assert_one_line(result, 3, "petugas PD-99 tidak ada di roster")
    assert "ForeignKey" not in result.stderr.decode() and "violates" not in result.stderr.decode()
    assert_verbose(["leave", "PD-99", "2026-12-01", "2026-12-12"], 3, DATABASE_URL=db_url)
    # Acting as someone who is not on the roster is refused before Temporal is asked.
    acting = starter("act", "ADU-0123456789AB", "acknowledge", "--actor", "PD-99", DATABASE_URL=db_url,
                     TEMPORAL_ADDRESS=f"127.0.0.1:{closed_port()}")
    assert_one_line(acting, 3, "petugas PD-99 tidak ada di roster")
    # A known officer's leave is recorded.
    done = starter("leave", "PD-35", "2026-12-01", "2026-12-12", "--reason", "cuti tahunan", DATABASE_URL=db_url)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert b"PD-35 cuti 2026-12-01..2026-12-12" in done.stdout
