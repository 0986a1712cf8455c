"""The intake entry for services and the command line for people.

    python starter.py submit complaint.json        # or - for stdin
    python starter.py status ADU-1A2B3C4D5E6F
    python starter.py act ADU-1A2B3C4D5E6F acknowledge --actor PD-33
    python starter.py list --status assigned --kecamatan Sawan
    python starter.py demo | schema | report | roster import FILE | leave OFFICER FROM TO
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import date

from pydantic import ValidationError

from casework import cases, logs
from casework.demo import demo_complaints
from casework.intake import IntakeError, intake_schema, parse_intake, submit
from casework.runtime import database, temporal_client
from referral import reference
from referral.config import Settings


def _print(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


async def cmd_submit(args, settings: Settings) -> int:
    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    try:
        intake = parse_intake(text)
    except IntakeError as err:
        print(err, file=sys.stderr)
        return 2
    client = await temporal_client(settings)
    submitted = await submit(client, intake, settings.task_queue, settings.pii_key)
    _print(submitted.model_dump(include={"complaint_id", "workflow_id", "status"}))
    return 0


async def cmd_status(args, settings: Settings) -> int:
    view = await cases.state(await temporal_client(settings), args.complaint_id)
    print(cases.readable(view, settings.pii_key).model_dump_json(indent=2))
    return 0


async def cmd_act(args, settings: Settings) -> int:
    fields = {"actor": args.actor, "note": args.note, "category": args.category, "plan": args.plan,
              "outcome": args.outcome, "reason": args.reason, "duplicate_of": args.duplicate_of,
              "pendamping_id": args.to, "clock": args.clock, "by": args.by}
    if args.needs_investigation:
        fields["needs_investigation"] = True
    if args.not_verified:
        fields["verified"] = False
    model = cases.ACTIONS[args.action]
    try:
        request = model.model_validate({k: v for k, v in fields.items() if v is not None and k in model.model_fields})
    except ValidationError as exc:
        for err in exc.errors():
            print(f"{'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 2
    try:
        view = await cases.act(await temporal_client(settings), args.complaint_id, args.action, request,
                               settings.pii_key, args.request_id)
    except cases.ActionFailed as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    _print({"complaint_id": view.complaint_id, "status": view.status.value, "pendamping_id": view.pendamping_id})
    return 0


async def cmd_list(args, settings: Settings) -> int:
    query = cases.list_query(
        status=args.status, village=args.village, pendamping=args.pendamping, bidang=args.bidang,
        kecamatan=args.kecamatan, category=args.category, breached=args.breached,
        escalation_level=args.escalation_level,
    )
    rows = await cases.list_cases(await temporal_client(settings), query, limit=args.limit)
    if args.json or not sys.stdout.isatty():
        _print(rows)
        return 0
    columns = ["complaint_id", "status", "kecamatan", "category", "pendamping_id", "escalation_level",
               "sla_breached", "next_deadline"]
    widths = {c: max([len(c)] + [len(str(r[c] if r[c] is not None else "")) for r in rows]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c] if row[c] is not None else "").ljust(widths[c]) for c in columns))
    print(f"{len(rows)} case(s) · query: {query}", file=sys.stderr)
    return 0


async def cmd_demo(args, settings: Settings) -> int:
    client = await temporal_client(settings)
    for intake in demo_complaints():
        submitted = await submit(client, intake, settings.task_queue, settings.pii_key)
        _print(submitted.model_dump(include={"complaint_id", "workflow_id", "status"}))
    print(f"open {settings.ui_url}/namespaces/{settings.temporal_namespace}/workflows to see them", file=sys.stderr)
    return 0


async def cmd_schema(args, settings: Settings) -> int:
    print(json.dumps(intake_schema(), indent=2, ensure_ascii=False))
    return 0


async def cmd_report(args, settings: Settings) -> int:
    from casework.reports_cli import run_report

    if not settings.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    print(await run_report(settings.database_url, args.date_from, args.date_to, args.by, args.format, args.output))
    return 0


async def cmd_roster(args, settings: Settings) -> int:
    try:
        roster = reference.load_roster(args.file)
    except reference.RosterError as err:
        print(f"roster refused:\n{err}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"roster OK: {len(roster.pendamping())} pendamping cover {len(roster.coverage)} villages")
        return 0
    async with database(settings) as db:
        await db.replace_roster(roster)
    print(f"roster loaded: {len(roster.pendamping())} pendamping cover {len(roster.coverage)} villages")
    refreshed = await cases.refresh_open_cases(
        await temporal_client(settings),
        progress=lambda n, wf_id: print(f"  open cases updated: {n} ({wf_id})", file=sys.stderr) if n % 25 == 0 else None,
    )
    print(f"{refreshed} open case(s) now use the new roster")
    return 0


async def cmd_leave(args, settings: Settings) -> int:
    async with database(settings) as db:
        await db.add_leave(args.officer_id, args.starts_on, args.ends_on, args.reason or "")
    print(f"{args.officer_id} on leave {args.starts_on}..{args.ends_on}: new cases go to a backup")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("submit", help="submit a JSON complaint (- for stdin)")
    s.add_argument("file")
    s.set_defaults(run=cmd_submit)

    s = sub.add_parser("status", help="a case's state and timeline as JSON")
    s.add_argument("complaint_id")
    s.set_defaults(run=cmd_status)

    s = sub.add_parser("act", help="act on a case: " + ", ".join(cases.ACTIONS))
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
    s.set_defaults(run=cmd_act)

    s = sub.add_parser("list", help="cases from Temporal visibility")
    for flag in ("--status", "--village", "--pendamping", "--bidang", "--kecamatan", "--category"):
        s.add_argument(flag)
    s.add_argument("--breached", action="store_true", help="only cases with an SLA clock past due")
    s.add_argument("--escalation-level", type=int, help="at least this escalation level")
    s.add_argument("--limit", type=int, default=200)
    s.add_argument("--json", action="store_true")
    s.set_defaults(run=cmd_list)

    sub.add_parser("demo", help="submit sample complaints across the kecamatan").set_defaults(run=cmd_demo)
    sub.add_parser("schema", help="print the intake JSON Schema").set_defaults(run=cmd_schema)

    s = sub.add_parser("report", help="SLA and caseload report from Postgres")
    s.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True)
    s.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True)
    s.add_argument("--by", choices=["kecamatan", "village", "pendamping", "bidang", "category"], default="kecamatan")
    s.add_argument("--format", choices=["table", "csv", "json", "png"], default="table")
    s.add_argument("--output", help="file for png (default report-FROM-TO.png)")
    s.set_defaults(run=cmd_report)

    s = sub.add_parser("roster", help="import the office's roster CSV")
    s.add_argument("op", choices=["import"])
    s.add_argument("file")
    s.add_argument("--dry-run", action="store_true", help="only validate")
    s.set_defaults(run=cmd_roster)

    s = sub.add_parser("leave", help="record a pendamping's leave: new cases go to a backup")
    s.add_argument("officer_id")
    s.add_argument("starts_on", type=date.fromisoformat)
    s.add_argument("ends_on", type=date.fromisoformat)
    s.add_argument("--reason")
    s.set_defaults(run=cmd_leave)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    logs.configure(settings.log_format, "warning")
    return asyncio.run(args.run(args, settings))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without interpreter finalisation: the Temporal client's native threads can abort a
    # normal shutdown ("PyGILState_Release"), which would turn a clean exit code into 134.
    os._exit(code)
