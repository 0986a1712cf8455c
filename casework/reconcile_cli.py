"""`starter.py reconcile [--repair] [--case ID]`: compare each open case's workflow with Postgres.

    python starter.py reconcile                 # every open case: one line per difference
    python starter.py reconcile --case ADU-…    # one case (open or finished)
    python starter.py reconcile --repair        # and rewrite differing rows from the workflows' state

Differences go to stdout, one line each, in Bahasa Indonesia (`REFERRAL_CLI_LANG=en` for English);
progress, cases that could not be asked and the summary go to stderr. What is compared and what a repair
may do: casework/reconcile.py.

| exit | meaning |
|---:|---|
| 0 | no difference (after `--repair`: none left) |
| 1 | differences found (after `--repair`: some left, e.g. a missing event, which is never invented) |
| 2 | DATABASE_URL is not set, or a wrong command line |
| 3 | `--case`: no such case |
| 4 | Temporal or PostgreSQL does not answer, or some case could not be asked (is the worker running?) |

Wiring (starter.py): `reconcile_cli.add_parser(sub)`; the subcommand's `run(args, settings)` returns the code.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any, TextIO

from activities.store import open_store
from activities.store.reconcile import ReconcileStore
from casework import cli, logs
from casework.cli import BAD_INPUT, NOT_FOUND, OK, REFUSED, UNREACHABLE, CliError
from casework.reconcile import CHUNK, CaseNotFound, Difference, Kind, Outcome, case_workflow, open_cases, reconcile
from casework.runtime import temporal_client
from referral.config import Settings

TEXTS: dict[str, tuple[str, str]] = {  # key -> (Bahasa Indonesia, English)
    Kind.COLUMN.value: ("{id}: kolom {subject} berbeda: workflow {workflow}, PostgreSQL {postgres}",
                        "{id}: column {subject} differs: workflow {workflow}, PostgreSQL {postgres}"),
    Kind.EVENT_MISSING.value: ("{id}: peristiwa {subject} dicatat oleh workflow tetapi tidak ada di PostgreSQL",
                               "{id}: event {subject} recorded by the workflow is missing in PostgreSQL"),
    Kind.ROW_MISSING.value: ("{id}: baris kasus tidak ada di PostgreSQL padahal workflow sudah mencatat {workflow}"
                             " langkah",
                             "{id}: no case row in PostgreSQL although the workflow recorded {workflow} step(s)"),
    Kind.EVENT_UNKNOWN.value: ("{id}: peristiwa {subject} ada di PostgreSQL tetapi tidak dikenal workflow",
                               "{id}: event {subject} in PostgreSQL is unknown to the workflow"),
    "repaired": ("{id}: baris diperbaiki dari keadaan workflow", "{id}: row repaired from the workflow's state"),
    "refused": ("{id}: baris tidak diperbaiki: di PostgreSQL baris ini sudah berubah atau berada di langkah yang"
                " lebih baru", "{id}: row not repaired: in PostgreSQL it has changed or is at a later step"),
    "unreachable": ("{id}: tidak dapat ditanya ({why})", "{id}: could not be queried ({why})"),
    "progress": ("diperiksa {done}/{total} kasus", "checked {done}/{total} cases"),
    "summary": ("{checked} kasus diperiksa: {count} perbedaan pada {cases} kasus",
                "{checked} case(s) checked: {count} difference(s) in {cases} case(s)"),
    "left": ("setelah perbaikan: {count} perbedaan tersisa", "after the repair: {count} difference(s) left"),
    "empty": ("kosong", "empty"),
}


def text(key: str, lang: str, **values: Any) -> str:
    indonesian, english = TEXTS[key]
    return (english if lang == "en" else indonesian).format(**values)


def shown(value: Any, lang: str) -> str:
    """A value as the operator reads it: quoted text, ISO times, `kosong` for nothing."""
    if value is None:
        return text("empty", lang)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def describe(difference: Difference, lang: str = "id") -> str:
    """One line for one difference."""
    return text(difference.kind.value, lang, id=difference.complaint_id, subject=difference.subject,
                workflow=shown(difference.workflow, lang) if difference.kind == Kind.COLUMN else difference.workflow,
                postgres=shown(difference.postgres, lang))


def report(outcome: Outcome, repair: bool, lang: str, out: TextIO, err: TextIO) -> int:
    """Print what was found (and repaired); return the exit code."""
    for difference in outcome.found:
        print(describe(difference, lang), file=out)
    for complaint_id in outcome.repaired:
        print(text("repaired", lang, id=complaint_id), file=out)
    for complaint_id in outcome.refused:
        print(text("refused", lang, id=complaint_id), file=out)
    for wf_id, why in outcome.unreachable.items():
        print(text("unreachable", lang, id=wf_id.removeprefix("complaint-"), why=why), file=err)
    cases = len({d.complaint_id for d in outcome.found})
    print(text("summary", lang, checked=outcome.checked, count=len(outcome.found), cases=cases), file=err)
    if repair and outcome.found:
        print(text("left", lang, count=len(outcome.remaining)), file=err)
    if outcome.remaining:
        return REFUSED
    return UNREACHABLE if outcome.unreachable else OK


async def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    out, err, lang = out or sys.stdout, err or sys.stderr, cli.language()
    if not settings.database_url:
        raise CliError(BAD_INPUT, "database_url_missing")
    try:
        client = await temporal_client(settings)
    except RuntimeError as exc:  # Client.connect reports every connection failure as a RuntimeError
        raise CliError(UNREACHABLE, "temporal_unreachable", address=settings.temporal_address) from exc
    if args.case:
        try:
            workflow_ids = [await case_workflow(client, args.case)]
        except CaseNotFound:
            raise CliError(NOT_FOUND, "case_not_found", id=args.case) from None
    else:
        workflow_ids = await open_cases(client)

    def progress(done: int, total: int) -> None:
        if total > CHUNK:  # only a long run says how far it is
            print(text("progress", lang, done=done, total=total), file=err, flush=True)

    try:
        async with open_store(settings.database_url, max_size=4) as db:
            outcome = await reconcile(client, ReconcileStore(db.pool), workflow_ids, repair=args.repair,
                                      settle=args.settle, progress=progress)
    except Exception as exc:
        if cli.is_network_error(exc):
            raise cli.postgres_unreachable(settings.database_url, exc) from exc
        raise
    return report(outcome, args.repair, lang, out, err)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `reconcile` to starter.py's subcommands."""
    p = subparsers.add_parser("reconcile", help="compare each open case's workflow with Postgres; --repair rows")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--repair", action="store_true",
                   help="rewrite differing case rows from the workflow's state (never to an earlier step)")
    p.add_argument("--case", metavar="ID", help="only this case, e.g. ADU-1A2B3C4D5E6F (open or finished)")
    p.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                   help="wait before checking a differing case again (a step may be in flight; default 2)")
    p.set_defaults(run=run)
    return p


def main(argv: list[str] | None = None) -> int:
    """The command on its own (`python -m casework.reconcile_cli`), as starter.py runs it."""
    parser = cli.Parser(prog="reconcile", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["reconcile", *(sys.argv[1:] if argv is None else argv)])

    async def command() -> int:
        settings = Settings()
        logs.configure(settings.log_format, "warning")
        return await args.run(args, settings)

    return cli.run(command, verbose=args.verbose)


if __name__ == "__main__":
    import os

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as starter.py: the Temporal client's native threads can abort a normal shutdown
