"""`starter.py token issue|list|revoke` (casework.tokens_cli) against a real Postgres, through the very
argparse wiring starter.py adds with `tokens_cli.add_parser`."""

from __future__ import annotations

import argparse
import io
from dataclasses import replace

import pytest

from casework import tokens_cli
from referral.config import Settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="starter.py")
    tokens_cli.add_parser(p.add_subparsers(dest="command", required=True))
    return p


async def token_command(db_url: str | None, *argv: str) -> tuple[int, str, str]:
    args = parser().parse_args(["token", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = await args.run(args, replace(Settings(), database_url=db_url), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_issue_shows_the_token_once_list_never_and_revoke_ends_it(db_url, db):
    code, out, _ = await token_command(db_url, "issue", "officer", "PD-34", "--days", "7", "--label", "HP dinas")
    assert code == 0
    token = next(line.strip() for line in out.splitlines() if line.strip().startswith("rjk_"))
    token_id = token[4:20]
    assert out.startswith(f"Token petugas untuk PD-34 dibuat (id {token_id}).")
    assert "hanya ditampilkan SEKALI" in out and "Authorization: Bearer <token>" in out

    code, listing, _ = await token_command(db_url, "list")
    assert code == 0 and token_id in listing and "HP dinas" in listing
    assert token[21:] not in listing  # never the secret
    row = next(line for line in listing.splitlines() if line.startswith(token_id))
    assert row.split()[1:4] == ["petugas", "PD-34", "aktif"]

    code, revoked, _ = await token_command(db_url, "revoke", token_id)
    assert code == 0 and revoked.startswith(f"Token {token_id} (petugas PD-34) dicabut pada ")
    _, listing, _ = await token_command(db_url, "list")
    assert next(line for line in listing.splitlines() if line.startswith(token_id)).split()[3] == "dicabut"


async def test_a_service_token_names_its_scope(db_url, db):
    code, out, _ = await token_command(db_url, "issue", "service", "puskesos-bengkala", "--channel", "puskesos",
                                       "--village", "51.08.08.2010")
    assert code == 0
    assert "Kanal: puskesos." in out and "Desa: 51.08.08.2010." in out


async def test_refused_requests_name_every_problem(db_url, db):
    code, out, err = await token_command(db_url, "issue", "service", "bad id!", "--channel", "fax", "--days", "9999")
    assert (code, out) == (2, "")
    assert err.startswith("Token tidak dibuat:")
    assert len([line for line in err.splitlines() if line.startswith("  - ")]) == 3
    code, _, err = await token_command(db_url, "issue", "officer", "PD-99")
    assert code == 2 and "'PD-99' is not an active officer" in err
    code, _, err = await token_command(db_url, "revoke", "0000000000000000")
    assert code == 1 and err.strip() == "Tidak ada token dengan id '0000000000000000'."


async def test_without_a_database_it_says_how_to_get_one():
    code, _, err = await token_command(None, "list")
    assert code == 2 and "DATABASE_URL belum diatur" in err


def test_kinds_and_subcommands_are_checked_by_argparse():
    with pytest.raises(SystemExit):
        parser().parse_args(["token", "issue", "robot", "x"])
    with pytest.raises(SystemExit):
        parser().parse_args(["token"])
