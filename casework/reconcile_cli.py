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
from casework import cli
from casework.cli import BAD_INPUT, NOT_FOUND, OK, REFUSED, UNREACHABLE, CliError
from casework.reconcile import CHUNK, CaseNotFound, Difference, Kind, Outcome, case_workflow, open_cases, reconcile
from casework.runtime import temporal_client
from referral import i18n
from referral.config import Settings
from referral.i18n import N_

TEXTS: dict[str, str] = {  # key -> English msgid; referral/locale holds the Bahasa Indonesia
    Kind.COLUMN.value: N_("{id}: column {subject} differs: workflow {workflow}, PostgreSQL {postgres}"),
    Kind.EVENT_MISSING.value: N_("{id}: event {subject} recorded by the workflow is missing in PostgreSQL"),
    Kind.ROW_MISSING.value: N_("{id}: no case row in PostgreSQL although the workflow recorded {workflow} step(s)"),
    Kind.EVENT_UNKNOWN.value: N_("{id}: event {subject} in PostgreSQL is unknown to the workflow"),
    "repaired": N_("{id}: row repaired from the workflow's state"),
    "refused": N_("{id}: row not repaired: in PostgreSQL it has changed or is at a later step"),
    "unreachable": N_("{id}: could not be queried ({why})"),
    "progress": N_("checked {done}/{total} cases"),
    "summary": N_("{checked} case(s) checked: {count} difference(s) in {cases} case(s)"),
    "left": N_("after the repair: {count} difference(s) left"),
    "empty": N_("empty"),
}


def text(key: str, lang: str, **values: Any) -> str:
    return i18n.translator(lang).gettext(TEXTS[key], **values)


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
