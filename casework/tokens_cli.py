"""`starter.py token ...`: issue, list and revoke the API's bearer tokens. Output in Bahasa Indonesia.

    python starter.py token issue officer PD-34 [--days 90] [--label "HP dinas"]
    python starter.py token issue service puskesos-bengkala --channel puskesos [--village 51.08.08.2010]
    python starter.py token list
    python starter.py token revoke 0123456789abcdef

The token is printed once, at issue; only a hash of its secret is stored. Wiring (starter.py):
`tokens_cli.add_parser(sub)`; the subcommand's `run(args, settings)` returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from typing import Iterable, TextIO

from activities.store import open_store
from activities.store.access import AccessStore, TokenInfo
from api.settings import ApiSettings
from api.tokens import (
    KINDS, IssuedToken, TokenNotFound, TokenRequestError, issue_token, list_tokens, revoke_token,
)
from referral.config import Settings

KIND_NAMES = {"officer": "petugas", "service": "layanan", "partner": "mitra"}
STATE_NAMES = {"active": "aktif", "expired": "kedaluwarsa", "revoked": "dicabut"}


def _when(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def issued_text(issued: IssuedToken) -> str:
    """What the administrator reads once: the token, its scope and how to use it."""
    info = issued.info
    lines = [
        f"Token {KIND_NAMES[info.kind]} untuk {info.subject} dibuat (id {info.token_id}).",
        f"Berlaku sampai {_when(info.expires_at)}.",
    ]
    if info.channels:
        lines.append(f"Kanal: {', '.join(info.channels)}.")
    if info.kind == "service":
        lines.append(f"Desa: {', '.join(info.villages)}." if info.villages else "Desa: semua desa.")
    lines += [
        "",
        "Token ini hanya ditampilkan SEKALI. Simpan di tempat aman; yang tersimpan di server hanya hash-nya:",
        "",
        f"    {issued.token}",
        "",
        "Pakai sebagai header: Authorization: Bearer <token> (atau tempel di halaman /masuk untuk petugas).",
    ]
    return "\n".join(lines)


def table_text(tokens: Iterable[TokenInfo], now: datetime) -> str:
    """The tokens as a table: never a secret or a hash."""
    rows = [("ID", "JENIS", "SUBJEK", "STATUS", "BERLAKU SAMPAI", "TERAKHIR DIPAKAI", "KANAL/DESA", "LABEL")]
    for t in tokens:
        scope = ",".join(t.channels) + (f" @ {','.join(t.villages)}" if t.villages else "")
        rows.append((t.token_id, KIND_NAMES[t.kind], t.subject, STATE_NAMES[t.state(now)], _when(t.expires_at),
                     _when(t.last_used_at), scope or "-", t.label or "-"))
    if len(rows) == 1:
        return "Belum ada token."
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def revoked_text(info: TokenInfo) -> str:
    return (f"Token {info.token_id} ({KIND_NAMES[info.kind]} {info.subject}) dicabut pada {_when(info.revoked_at)};"
            " permintaan dengan token ini kini ditolak (401).")


async def issue(store: AccessStore, kind: str, subject: str, days: int | None = None,
                channels: Iterable[str] = (), villages: Iterable[str] = (), label: str = "",
                settings: ApiSettings | None = None) -> IssuedToken:
    """The function behind `token issue` (TokenRequestError lists every problem)."""
    return await issue_token(store, kind=kind, subject=subject, channels=channels, villages=villages, label=label,
                             expires_in=timedelta(days=days) if days is not None else None,
                             settings=settings or ApiSettings())


async def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """`starter.py token OP ...`: 0 done, 1 no such token, 2 a refused request or no database."""
    out, err = out or sys.stdout, err or sys.stderr
    if not settings.database_url:
        print("DATABASE_URL belum diatur (atau jalankan `python worker.py --dev` lebih dulu).", file=err)
        return 2
    async with open_store(settings.database_url, max_size=2) as db:
        store = AccessStore(db.pool)
        if args.token_command == "issue":
            try:
                issued = await issue(store, args.kind, args.subject, args.days, args.channel or (),
                                     args.village or (), args.label or "")
            except TokenRequestError as exc:
                print("Token tidak dibuat:", file=err)
                for problem in exc.problems:
                    print(f"  - {problem}", file=err)
                return 2
            print(issued_text(issued), file=out)
        elif args.token_command == "list":
            print(table_text(await list_tokens(store), datetime.now(timezone.utc)), file=out)
        else:
            try:
                info = await revoke_token(store, args.token_id)
            except TokenNotFound:
                print(f"Tidak ada token dengan id {args.token_id!r}.", file=err)
                return 1
            print(revoked_text(info), file=out)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `token issue|list|revoke` to starter.py's subcommands."""
    token = subparsers.add_parser("token", help="API tokens: issue, list, revoke")
    ops = token.add_subparsers(dest="token_command", required=True)
    issue_p = ops.add_parser("issue", help="issue a token (shown once)")
    issue_p.add_argument("kind", choices=KINDS, help="officer, service or partner")
    issue_p.add_argument("subject", help="officer id (PD-34), service id (puskesos-bengkala) or partner code")
    issue_p.add_argument("--days", type=int, help="valid for N days (default REFERRAL_TOKEN_DEFAULT_DAYS, 90)")
    issue_p.add_argument("--channel", action="append", help="service: a channel it submits on (repeatable)")
    issue_p.add_argument("--village", action="append", help="service: the only village codes it may name")
    issue_p.add_argument("--label", help="a note for yourself, e.g. the device")
    ops.add_parser("list", help="every token: state, expiry, last use (never a secret)")
    revoke_p = ops.add_parser("revoke", help="revoke a token at once")
    revoke_p.add_argument("token_id", help="the 16 hex digits after rjk_")
    token.set_defaults(run=run)
    return token
