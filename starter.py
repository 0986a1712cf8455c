"""The command line for people: submit, read and act on cases, reports, the roster and leave.

    python starter.py submit complaint.json        # or - for stdin
    python starter.py status ADU-1A2B3C4D5E6F
    python starter.py act ADU-1A2B3C4D5E6F acknowledge --actor PD-33
    python starter.py list --status assigned --kecamatan Sawan
    python starter.py demo | schema | report | roster import FILE | leave OFFICER FROM TO

A failure prints one line (`galat: …`) and exits 1 refused, 2 bad input, 3 not found, 4 Temporal or
PostgreSQL unreachable, 5 unexpected; --verbose adds the traceback (casework/cli.py has the table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator

import asyncpg
from temporalio.client import Client

from activities.store import Store, open_store
from activities.store.roster import UnknownOfficer
from casework import cases, cli, logs, tokens_cli
from casework.cli import BAD_INPUT, NOT_FOUND, REFUSED, UNREACHABLE, CliError
from casework.demo import demo_complaints
from casework.intake import IntakeFailed, intake_schema, parse_intake, submit
from casework.runtime import temporal_client
from referral import reference
from referral.config import Settings
from referral.models import Actor


def _print(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


async def _client(settings: Settings) -> Client:
    try:
        return await temporal_client(settings)
    except RuntimeError as exc:  # Client.connect reports every connection failure as a RuntimeError
        raise CliError(UNREACHABLE, "temporal_unreachable", address=settings.temporal_address) from exc


@asynccontextmanager
async def _store(settings: Settings, prepare: bool = False) -> AsyncIterator[Store]:
    """The data layer, with a connection failure told as one line that names the server."""
    url = settings.database_url
    if not url:
        raise CliError(BAD_INPUT, "database_url_missing")
    try:
        async with open_store(url, prepare=prepare, roster_file=settings.roster_file) as store:
            yield store
    except Exception as exc:
        if cli.is_network_error(exc):
            raise cli.postgres_unreachable(url, exc) from exc
        raise


async def _officer(store: Store, officer_id: str) -> Actor:
    """An officer on the roster as the actor the workflow checks (role and bidang come from the roster)."""
    officer = await store.roster.officer(officer_id)
    if officer is None or not officer.active:
        raise CliError(NOT_FOUND, "officer_not_found", id=officer_id)
    return Actor(id=officer.officer_id, role=officer.role, bidang=officer.bidang)


def _key_for_sealing(settings: Settings) -> str:
    """The public development key seals nothing outside `worker.py --dev` (the worker refuses it too)."""
    if settings.uses_dev_key() and not settings.dev_stack_running():
        raise CliError(BAD_INPUT, "dev_key")
    return settings.pii_key


async def cmd_submit(args, settings: Settings) -> int:
    intake = parse_intake(cli.read_text(args.file))  # before any connection: bad input starts nothing
    _key_for_sealing(settings)
    try:
        submitted = await submit(await _client(settings), intake, settings.task_queue, settings.pii_key)
    except IntakeFailed as failed:
        raise CliError(REFUSED, "intake_failed", detail=str(failed)) from failed
    _print(submitted.model_dump(include={"complaint_id", "workflow_id", "status"}))
    return 0


async def cmd_status(args, settings: Settings) -> int:
    try:
        view = await cases.state(await _client(settings), args.complaint_id)
    except cases.CaseNotFound:
        raise CliError(NOT_FOUND, "case_not_found", id=args.complaint_id) from None
    print(cases.readable(view, settings.pii_key).model_dump_json(indent=2))
    return 0


async def cmd_act(args, settings: Settings) -> int:
    model = cases.ACTIONS[args.action]
    fields = {"note": args.note, "category": args.category, "plan": args.plan, "outcome": args.outcome,
              "reason": args.reason, "duplicate_of": args.duplicate_of, "clock": args.clock, "by": args.by}
    if args.needs_investigation:
        fields["needs_investigation"] = True
    if args.not_verified:
        fields["verified"] = False
    async with _store(settings) as store:
        fields["actor"] = await _officer(store, args.actor)
        if args.to and "to" in model.model_fields:
            fields["to"] = await _officer(store, args.to)
    request = model.model_validate({k: v for k, v in fields.items() if v is not None and k in model.model_fields})
    if any(getattr(request, name, None) for name in request.FREE_TEXT):
        _key_for_sealing(settings)
    try:
        summary = await cases.act(await _client(settings), args.complaint_id, args.action, request,
                                  settings.pii_key, args.request_id)
    except cases.ActionFailed as refused:
        raise CliError(REFUSED, "refused", detail=str(refused)) from None
    except cases.CaseNotFound:
        raise CliError(NOT_FOUND, "case_not_found", id=args.complaint_id) from None
    _print({"complaint_id": summary.complaint_id, "status": summary.status.value,
            "pendamping_id": summary.pendamping_id})
    return 0


async def cmd_list(args, settings: Settings) -> int:
    query = cases.list_query(
        status=args.status, village=args.village, pendamping=args.pendamping, bidang=args.bidang,
        kecamatan=args.kecamatan, category=args.category, breached=args.breached,
        escalation_level=args.escalation_level, needs_attention=args.needs_attention, condition=args.condition,
    )
    rows = await cases.list_cases(await _client(settings), query, limit=args.limit)
    if args.json or not sys.stdout.isatty():
        _print(rows)
        return 0
    columns = ["complaint_id", "status", "kecamatan", "category", "pendamping_id", "escalation_level",
               "sla_breached", "next_deadline"]
    cell = lambda row, c: "" if row.get(c) is None else str(row[c])  # noqa: E731
    widths = {c: max([len(c)] + [len(cell(r, c)) for r in rows]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(cell(row, c).ljust(widths[c]) for c in columns))
    print(f"{len(rows)} case(s) · query: {query}", file=sys.stderr)
    return 0


async def cmd_demo(args, settings: Settings) -> int:
    _key_for_sealing(settings)
    client = await _client(settings)
    for intake in demo_complaints():
        submitted = await submit(client, intake, settings.task_queue, settings.pii_key)
        _print(submitted.model_dump(include={"complaint_id", "workflow_id", "status"}))
    print(f"open {settings.ui_url}/namespaces/{settings.temporal_namespace}/workflows to see them", file=sys.stderr)
    return 0


async def cmd_schema(args, settings: Settings) -> int:
    print(json.dumps(intake_schema(), indent=2, ensure_ascii=False))
    return 0


async def cmd_report(args, settings: Settings) -> int:
    cli.check_order("--from", args.date_from, "--to", args.date_to)
    if not settings.database_url:
        raise CliError(BAD_INPUT, "database_url_missing")
    from casework.reports_cli import run_report

    try:
        print(await run_report(settings.database_url, args.date_from, args.date_to, args.by, args.format, args.output,
                               settings))
    except Exception as exc:
        if cli.is_network_error(exc):
            raise cli.postgres_unreachable(settings.database_url, exc) from exc
        raise
    return 0


async def cmd_roster(args, settings: Settings) -> int:
    roster = reference.parse_roster(cli.read_text(args.file))
    summary = f"{len(roster.pendamping())} pendamping cover {len(roster.coverage)} villages"
    if args.dry_run:
        print(f"roster OK: {summary}")
        return 0
    async with _store(settings, prepare=True) as store:
        left = await store.roster.replace_roster(roster)
        moving = await store.roster.cases_of(left) if left else []
    print(f"roster loaded: {summary}" + (f"; left the roster: {', '.join(left)}" if left else ""))
    if moving:
        moved = await cases.announce_roster_change(
            await _client(settings), moving, left,
            progress=lambda n, wf_id: print(f"  cases moved: {n} ({wf_id})", file=sys.stderr) if n % 25 == 0 else None,
        )
        print(f"{moved} of {len(moving)} open case(s) of officers who left went to who covers their village now")
    return 0


async def cmd_leave(args, settings: Settings) -> int:
    cli.check_order("starts_on", args.starts_on, "ends_on", args.ends_on)
    async with _store(settings, prepare=True) as store:
        try:
            await store.roster.add_leave(args.officer_id, args.starts_on, args.ends_on, args.reason or "")
        except (UnknownOfficer, asyncpg.ForeignKeyViolationError):  # the latter: removed while we looked
            raise CliError(NOT_FOUND, "officer_not_found", id=args.officer_id) from None
    print(f"{args.officer_id} on leave {args.starts_on}..{args.ends_on}: new cases go to a backup")
    return 0


def parser() -> cli.Parser:
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="on failure, print the traceback too")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, run, help: str) -> cli.Parser:
        s = sub.add_parser(name, help=help)
        # Also after the command; SUPPRESS keeps the subcommand from resetting a --verbose given before it.
        s.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        s.set_defaults(run=run)
        return s

    s = command("submit", cmd_submit, "submit a JSON complaint (- for stdin)")
    s.add_argument("file")

    s = command("status", cmd_status, "a case's state and timeline as JSON")
    s.add_argument("complaint_id")

    s = command("act", cmd_act, "act on a case: " + ", ".join(cases.ACTIONS))
    s.add_argument("complaint_id")
    s.add_argument("action", choices=list(cases.ACTIONS))
    s.add_argument("--actor", required=True, help="officer id, e.g. PD-33 or KABID-REHSOS")
    s.add_argument("--note")
    s.add_argument("--category", help="assess: corrected PPKS category")
    s.add_argument("--needs-investigation", action="store_true", help="assess: completion gets the longer clock")
    s.add_argument("--not-verified", action="store_true", help="assess: the field visit could not verify it")
    s.add_argument("--plan", help="refer: the follow-up plan")
    s.add_argument("--outcome", help="resolve: service_provided, social_assistance, referred_external, ...")
    s.add_argument("--reason", help="reject: out_of_area|duplicate|not_ppks; pause/extend: why")
    s.add_argument("--duplicate-of", help="reject: the original complaint id")
    s.add_argument("--to", help="reassign: the new pendamping id")
    s.add_argument("--clock", help="extend: acknowledgement|verification|follow_up_plan|completion")
    s.add_argument("--by", help="extend: e.g. '2 working_days'")
    s.add_argument("--request-id", help="your id for this action: retrying with it never applies it twice")

    s = command("list", cmd_list, "cases from Temporal visibility")
    for flag in ("--status", "--village", "--pendamping", "--bidang", "--kecamatan", "--category"):
        s.add_argument(flag)
    s.add_argument("--condition", help="a condition code, e.g. odgj")
    s.add_argument("--breached", action="store_true", help="only cases with an SLA clock past due")
    s.add_argument("--needs-attention", action="store_true", help="only cases the office must look at")
    s.add_argument("--escalation-level", type=int, help="at least this escalation level")
    s.add_argument("--limit", type=int, default=200)
    s.add_argument("--json", action="store_true")

    command("demo", cmd_demo, "submit sample complaints across the kecamatan")
    command("schema", cmd_schema, "print the intake JSON Schema")

    s = command("report", cmd_report, "SLA and caseload report from Postgres")
    s.add_argument("--from", dest="date_from", type=cli.iso_date, required=True)
    s.add_argument("--to", dest="date_to", type=cli.iso_date, required=True)
    s.add_argument("--by", choices=["kecamatan", "village", "pendamping", "bidang", "category"], default="kecamatan")
    s.add_argument("--format", choices=["table", "csv", "json", "png"], default="table")
    s.add_argument("--output", help="file for png (default report-FROM-TO.png)")

    s = command("roster", cmd_roster, "import the office's roster CSV")
    s.add_argument("op", choices=["import"])
    s.add_argument("file")
    s.add_argument("--dry-run", action="store_true", help="only validate")

    tokens_cli.add_parser(sub)

    s = command("leave", cmd_leave, "record a pendamping's leave: new cases go to a backup")
    s.add_argument("officer_id")
    s.add_argument("starts_on", type=cli.iso_date)
    s.add_argument("ends_on", type=cli.iso_date)
    s.add_argument("--reason")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    async def command() -> int:
        settings = Settings()  # inside the wrapper: a bad setting is one line too
        logs.configure(settings.log_format, "warning")
        return await args.run(args, settings)

    return cli.run(command, verbose=args.verbose)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without interpreter finalisation: the Temporal client's native threads can abort a
    # normal shutdown ("PyGILState_Release"), which would turn a clean exit code into 134.
    os._exit(code)
