"""One line per failure on the command line: the wrapper every `starter.py` command runs in.

A failure prints one line on stderr, `galat: …`, in Bahasa Indonesia (`REFERRAL_LANGUAGE=en` for English;
the older `REFERRAL_CLI_LANG` is read when REFERRAL_LANGUAGE is unset), and exits with a documented code;
an invalid intake or roster adds one line per problem (`  - field: what is wrong`). `--verbose` prints the
traceback first.

| exit | meaning | e.g. |
|---:|---|---|
| 0 | done | |
| 1 | refused | the case refused the action (wrong state, wrong officer); the worker could not open the case |
| 2 | bad input | invalid intake, arguments or settings; `--from` after `--to`; a missing, unreadable or non-UTF-8 file; DATABASE_URL not set |
| 3 | not found | an unknown case id; an officer who is not on the roster |
| 4 | unreachable | Temporal or PostgreSQL does not answer (refused, unknown host, time-out, unknown database, login refused) |
| 5 | unexpected | a bug or a server error: run again with `--verbose` and report the traceback |
| 130 | interrupted | Ctrl-C |
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Awaitable, Callable, TextIO
from urllib.parse import urlsplit

import asyncpg
from pydantic import ValidationError
from temporalio.service import RPCError, RPCStatusCode

from referral import i18n
from referral.i18n import N_
from referral.intake import IntakeError
from referral.reference import RosterError

OK, REFUSED, BAD_INPUT, NOT_FOUND, UNREACHABLE, UNEXPECTED, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130

TEXTS: dict[str, str] = {  # key -> English msgid; referral/locale holds the Bahasa Indonesia
    "error": N_("error"),
    "case_not_found": N_("case {id} not found"),
    "officer_not_found": N_("officer {id} is not on the roster"),
    "not_found": N_("not found: {detail}"),
    "temporal_unreachable": N_("Temporal at {address} cannot be reached (is a Temporal server or"
                               " `python worker.py --dev` running?)"),
    "temporal_down": N_("Temporal cannot be reached: {detail}"),
    "postgres_unreachable": N_("PostgreSQL at {where} cannot be reached: {detail}"),
    "server_unreachable": N_("a server cannot be reached: {detail}"),
    "database_url_missing": N_("DATABASE_URL is not set (or run `python worker.py --dev`)"),
    "file_missing": N_("file {path} not found"),
    "file_is_folder": N_("{path} is a folder, not a file"),
    "file_denied": N_("file {path} may not be opened"),
    "file_unreadable": N_("file {path} cannot be read: {detail}"),
    "file_not_utf8": N_("{path} is not UTF-8 text (byte 0x{byte:02x} at position {position})"),
    "not_a_date": N_("{text!r} is not a date YYYY-MM-DD"),
    "dates_reversed": N_("{first} {start} is after {second} {end}"),
    "intake_invalid": N_("invalid complaint"),
    "roster_invalid": N_("roster refused"),
    "input_invalid": N_("invalid input"),
    "bad_input": N_("{detail}"),
    "refused": N_("refused: {detail}"),
    "owner_role_needed": N_("this command changes the roster and needs the database owner role: set"
                            " DATABASE_ADMIN_URL ({detail})"),
    "dev_key": N_("REFERRAL_PII_KEY is not set: the public development key is only for `worker.py --dev`"),
    "keys_refused": N_("the payload keys cannot be used: {detail}"),
    "keyless": N_("this tool holds no payload keys ({detail}): use the officers' page or the API, or run it where"
                  " the keys are"),
    "intake_failed": N_("the complaint could not be opened: {detail}"),
    "interrupted": N_("interrupted"),
    "unexpected": N_("unexpected error ({kind}: {detail}); run again with --verbose and report the traceback"),
}
# key -> (Bahasa Indonesia, English), as the catalogs give them.
MESSAGES: dict[str, tuple[str, str]] = {
    key: (i18n.translator("id").gettext(msgid), i18n.translator("en").gettext(msgid)) for key, msgid in TEXTS.items()
}

# Connection failures of asyncpg that are not plain OSErrors (the server answered "no").
POSTGRES_REFUSALS = (asyncpg.PostgresConnectionError, asyncpg.InvalidAuthorizationSpecificationError,
                     asyncpg.InvalidCatalogNameError, asyncpg.CannotConnectNowError,
                     asyncpg.TooManyConnectionsError)


class CliError(Exception):
    """A failure the command understood: an exit code, a message key with its values, problem lines."""

    def __init__(self, code: int, key: str, details: list[str] | None = None, **values: Any) -> None:
        super().__init__(f"{key} {values}")
        self.code, self.key, self.details, self.values = code, key, details or [], values


@dataclass(frozen=True)
class Failure:
    code: int
    message: str
    details: list[str] = field(default_factory=list)

    def lines(self, lang: str = "id") -> list[str]:
        """The header, then one line per problem (a single problem joins the header's line)."""
        head = f"{_text('error', lang)}: {self.message}"
        if len(self.details) == 1:
            return [_one_line(f"{head}: {self.details[0]}")]
        return [_one_line(head + (":" if self.details else ""))] + [f"  - {_one_line(d)}" for d in self.details]


def language() -> str:
    """REFERRAL_LANGUAGE (REFERRAL_CLI_LANG still read when it is unset); a bad value is reported by the
    settings, so the messages about it fall back to Bahasa Indonesia."""
    try:
        return i18n.language_from_env(os.environ)
    except ValueError:
        return i18n.DEFAULT_LANGUAGE


def _text(key: str, lang: str, **values: Any) -> str:
    return i18n.translator(lang).gettext(TEXTS[key], **values)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def is_network_error(exc: BaseException) -> bool:
    """Refused, reset, unknown host, time-out, no route: an OSError about no file, or asyncpg's refusals."""
    return isinstance(exc, POSTGRES_REFUSALS) or (isinstance(exc, OSError) and exc.filename is None)


def failure_of(exc: BaseException, lang: str = "id") -> Failure:
    """The exit code and message for an exception a command raised (see the table in the docstring)."""
    def say(code: int, key: str, details: list[str] | None = None, **values: Any) -> Failure:
        return Failure(code, _text(key, lang, **values), details or [])

    if isinstance(exc, CliError):
        return say(exc.code, exc.key, exc.details, **exc.values)
    if isinstance(exc, IntakeError):
        return say(BAD_INPUT, "intake_invalid", exc.problems)
    if isinstance(exc, RosterError):
        return say(BAD_INPUT, "roster_invalid", exc.problems)
    if isinstance(exc, ValidationError):
        problems = [f"{'.'.join(map(str, e['loc'])) or '(input)'}: {e['msg']}" for e in exc.errors()]
        return say(BAD_INPUT, "input_invalid", problems)
    if isinstance(exc, KeyboardInterrupt):
        return say(INTERRUPTED, "interrupted")
    if type(exc).__name__ == "KeylessError":  # casework.codec: a tool without keys met an encrypted payload
        return say(REFUSED, "keyless", detail=str(exc)[:200])
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND:
            return say(NOT_FOUND, "not_found", detail=exc.message)
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return say(UNREACHABLE, "temporal_down", detail=exc.message)
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return say(UNREACHABLE, "temporal_down", detail=str(exc))
    if isinstance(exc, UnicodeDecodeError):
        return say(BAD_INPUT, "file_not_utf8", path=i18n.translator(lang).gettext("input"),
                   byte=exc.object[exc.start], position=exc.start)
    if isinstance(exc, OSError) and exc.filename is not None:
        return file_failure(exc, lang)
    if is_network_error(exc):
        return say(UNREACHABLE, "server_unreachable", detail=str(exc) or type(exc).__name__)
    if isinstance(exc, ValueError):  # argument and settings checks
        return say(BAD_INPUT, "bad_input", detail=str(exc))
    return say(UNEXPECTED, "unexpected", kind=type(exc).__name__, detail=str(exc)[:300])


def file_failure(exc: OSError, lang: str = "id") -> Failure:
    path = exc.filename
    if isinstance(exc, FileNotFoundError):
        return Failure(BAD_INPUT, _text("file_missing", lang, path=path))
    if isinstance(exc, IsADirectoryError):
        return Failure(BAD_INPUT, _text("file_is_folder", lang, path=path))
    if isinstance(exc, PermissionError):
        return Failure(BAD_INPUT, _text("file_denied", lang, path=path))
    return Failure(BAD_INPUT, _text("file_unreadable", lang, path=path, detail=exc.strerror or str(exc)))


def run(command: Callable[[], Awaitable[int]], verbose: bool = False, stream: TextIO | None = None) -> int:
    """Run an async command; print any failure as described above and return the exit code."""
    stream = stream or sys.stderr
    try:
        return asyncio.run(command())
    except (Exception, KeyboardInterrupt) as exc:
        if verbose:
            traceback.print_exception(exc, file=stream)
        lang = language()
        failure = failure_of(exc, lang)
        for line in failure.lines(lang):
            print(line, file=stream)
        return failure.code


# ---- helpers for the commands ---------------------------------------------------------------

def read_text(path: str) -> str:
    """A UTF-8 file (or stdin for `-`), its problems named with the file."""
    name = "stdin" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(BAD_INPUT, "file_not_utf8", path=name, byte=exc.object[exc.start], position=exc.start) from exc


def check_order(first: str, start: date, second: str, end: date) -> None:
    if start > end:
        raise CliError(BAD_INPUT, "dates_reversed", first=first, start=start, second=second, end=end)


def postgres_unreachable(url: str, exc: BaseException) -> CliError:
    """Where (host:port/database, never the password) and why."""
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
    return CliError(UNREACHABLE, "postgres_unreachable", where=where, detail=str(exc) or type(exc).__name__)


def iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_text("not_a_date", language(), text=text)) from None


class Parser(argparse.ArgumentParser):
    """argparse that reports a wrong command line in one line (exit 2), not usage plus error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        lang = language()
        print(_one_line(f"{_text('error', lang)}: {message} ({self.prog} --help)"), file=sys.stderr)
        raise SystemExit(BAD_INPUT)
