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
from activities.store.roles import DatabaseRoles
from activities.store.roster import UnknownOfficer
from casework import cases, cli, logs, reconcile_cli, tokens_cli
from casework.cli import BAD_INPUT, NOT_FOUND, REFUSED, UNREACHABLE, CliError
from casework.demo import demo_complaints
from casework.intake import IntakeError, IntakeFailed, intake_schema, parse_intake, submit
from casework.keys import KeyringError
from casework.runtime import temporal_client
from referral import i18n, reference, reports
from referral.config import Settings
from referral.models import Actor


def _print(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


def _texts(settings: Settings) -> i18n.Translator:
    """What people read, in REFERRAL_LANGUAGE (Bahasa Indonesia by default); JSON output stays as it is."""
    return i18n.translator(i18n.normalize(settings.language))


# `list` as a table: column -> heading.
LIST_COLUMNS = {
    "complaint_id": i18n.N_("case"), "status": i18n.N_("status"), "kecamatan": i18n.N_("kecamatan"),
    "category": i18n.N_("category"), "pendamping_id": i18n.N_("pendamping"),
    "escalation_level": i18n.N_("escalation"), "sla_breached": i18n.N_("late"),
    "next_deadline": i18n.N_("next deadline"),
}


def _list_cell(row: dict, column: str, tr: i18n.Translator, offset_minutes: int) -> str:
    value = row.get(column)
    if value is None:
        return ""
    if column == "status":
        return tr.label(i18n.STATUS, value)
    if column == "sla_breached":
        return tr.gettext("yes") if value else ""
    if column == "next_deadline":
        return tr.moment(value, offset_minutes)
    return str(value)


def _holds_keys(settings: Settings) -> bool:
    """An operator on the server holds the payload keys (as the worker and the API do); an officer's tool
    does not, and then reads only what stays in clear (lists, summaries) - officers use the page or the API."""
    return bool(settings.keys_file or os.environ.get("REFERRAL_KEYS")) or settings.dev_stack_running()


async def _client(settings: Settings) -> Client:
    try:
        return await temporal_client(settings, codec=_holds_keys(settings))
    except KeyringError as exc:  # e.g. the public development keys outside `worker.py --dev`
        raise CliError(BAD_INPUT, "keys_refused", detail=str(exc)) from None
    except RuntimeError as exc:  # Client.connect reports every connection failure as a RuntimeError
        raise CliError(UNREACHABLE, "temporal_unreachable", address=settings.temporal_address) from exc


@asynccontextmanager
async def _store(settings: Settings, prepare: bool = False, admin: bool = False) -> AsyncIterator[Store]:
    """The data layer, with a connection failure told as one line that names the server. `admin`: the command
    changes the roster, which only the owner role may (DATABASE_ADMIN_URL when set; activities/store/roles.py)."""
    owner_url = settings.database_admin_url if admin else None
    url = owner_url or settings.database_url
    if not url:
        raise CliError(BAD_INPUT, "database_url_missing")
    roles = DatabaseRoles.from_env() if owner_url else None
    try:
        async with open_store(url, prepare=prepare, roster_file=settings.roster_file, roles=roles) as store:
            yield store
    except asyncpg.InsufficientPrivilegeError as exc:
        if not admin:
            raise
        raise CliError(REFUSED, "owner_role_needed", detail=str(exc)) from None
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


async def cmd_submit(args, settings: Settings) -> int:
    """One file, or many (a Puskesos export): every file is checked before anything is sent."""
    if len(args.files) == 1:
        intakes = [parse_intake(cli.read_text(args.files[0]))]  # before any connection: bad input starts nothing
    else:
        intakes = _parse_many(args.files)
    client = await _client(settings)
    for path, intake in zip(args.files, intakes):
        if intake is None:
            continue
        try:
            submitted = await submit(client, intake, settings.task_queue, settings.pii_key)
        except IntakeFailed as failed:
            raise CliError(REFUSED, "intake_failed", detail=str(failed)) from failed
        _print({"file": path, **submitted.model_dump(include={"complaint_id", "workflow_id", "status"})}
               if len(args.files) > 1 else submitted.model_dump(include={"complaint_id", "workflow_id", "status"}))
    return BAD_INPUT if None in intakes else 0


def _parse_many(paths: list[str]) -> list:
    """Each file's intake, or None after printing its problems (one line each, the file named)."""
    intakes = []
    for path in paths:
        try:
            intakes.append(parse_intake(cli.read_text(path)))
        except IntakeError as err:
            for problem in err.problems:
                print(f"{path}: {problem}", file=sys.stderr)
            intakes.append(None)
    return intakes


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
              "reason": args.reason, "duplicate_of": args.duplicate_of, "clock": args.clock, "by": args.by,
              "programme": args.programme, "meeting_date": args.meeting_date, "partner": args.partner,
              "forwarded_to": args.forwarded_to}
    if args.refer_to:  # refer_partner: PARTNER=need, repeatable
        fields["partners"] = [dict(zip(("partner", "need"), item.split("=", 1))) for item in args.refer_to]
    if args.needs_investigation:
        fields["needs_investigation"] = True
    if args.not_verified:
        fields["verified"] = False
    async with _store(settings) as store:
        fields["actor"] = await _officer(store, args.actor)
        if args.to and "to" in model.model_fields:
            fields["to"] = await _officer(store, args.to)
    request = model.model_validate({k: v for k, v in fields.items() if v is not None and k in model.model_fields})
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
    tr = _texts(settings)
    heads = {c: tr.gettext(m) for c, m in LIST_COLUMNS.items()}
    cell = lambda row, c: _list_cell(row, c, tr, settings.utc_offset_minutes)  # noqa: E731
    widths = {c: max([len(heads[c])] + [len(cell(r, c)) for r in rows]) for c in heads}
    print("  ".join(heads[c].ljust(widths[c]) for c in heads).rstrip())
    for row in rows:
        print("  ".join(cell(row, c).ljust(widths[c]) for c in heads).rstrip())
    print(tr.ngettext("{n} case · query: {query}", "{n} cases · query: {query}", len(rows), query=query),
          file=sys.stderr)
    return 0


async def cmd_demo(args, settings: Settings) -> int:
    client = await _client(settings)
    for intake in demo_complaints():
        submitted = await submit(client, intake, settings.task_queue, settings.pii_key)
        _print(submitted.model_dump(include={"complaint_id", "workflow_id", "status"}))
    print(_texts(settings).gettext("open {url} to see them",
                                   url=f"{settings.ui_url}/namespaces/{settings.temporal_namespace}/workflows"),
          file=sys.stderr)
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
    tr = _texts(settings)
    summary = tr.gettext("{pendamping} pendamping cover {villages} villages", pendamping=len(roster.pendamping()),
                         villages=len(roster.coverage))
    if args.dry_run:
        print(tr.gettext("roster OK: {summary}", summary=summary))
        return 0
    async with _store(settings, prepare=True, admin=True) as store:
        left = await store.roster.replace_roster(roster)
        moving = await store.roster.cases_of(left) if left else []
    print(tr.gettext("roster loaded: {summary}", summary=summary)
          + (tr.gettext("; left the roster: {officers}", officers=", ".join(left)) if left else ""))
    if moving:
        moved = await cases.announce_roster_change(
            await _client(settings), moving, left,
            progress=lambda n, wf_id: print("  " + tr.gettext("cases moved: {n} ({workflow})", n=n, workflow=wf_id),
                                            file=sys.stderr) if n % 25 == 0 else None,
        )
        print(tr.ngettext("{moved} of {n} open case of officers who left went to who covers its village now",
                          "{moved} of {n} open cases of officers who left went to who covers their village now",
                          len(moving), moved=moved))
    return 0


async def cmd_calendar(args, settings: Settings) -> int:
    """Every open case takes the calendar now in force (new closures, a new SKB), recorded on each case."""
    async with _store(settings) as store:
        actor = await _officer(store, args.actor)
    tr = _texts(settings)
    asked, moved = await cases.announce_calendar(
        await _client(settings), cases.ACTIONS["change_calendar"](actor=actor),
        progress=lambda n, wf_id: print("  " + tr.gettext("cases checked: {n} ({workflow})", n=n, workflow=wf_id),
                                        file=sys.stderr) if n % 25 == 0 else None)
    print(tr.ngettext("{moved} of {n} open case checked against the calendar now in force",
                      "{moved} of {n} open cases checked against the calendar now in force", asked, moved=moved))
    return 0 if moved == asked else 1


async def cmd_leave(args, settings: Settings) -> int:
    cli.check_order("starts_on", args.starts_on, "ends_on", args.ends_on)
    async with _store(settings, prepare=True, admin=True) as store:
        try:
            await store.roster.add_leave(args.officer_id, args.starts_on, args.ends_on, args.reason or "")
        except (UnknownOfficer, asyncpg.ForeignKeyViolationError):  # the latter: removed while we looked
            raise CliError(NOT_FOUND, "officer_not_found", id=args.officer_id) from None
    print(_texts(settings).gettext("{officer} on leave {start}..{end}: new cases go to a backup",
                                   officer=args.officer_id, start=args.starts_on, end=args.ends_on))
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

    s = command("submit", cmd_submit, "submit JSON complaints (- for stdin); with several files, one line each")
    s.add_argument("files", nargs="+", metavar="file")

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
    s.add_argument("--programme", help="resolve/close assistance_given: PKH, BPNT, PBI_JKN, ATENSI, DAERAH")
    s.add_argument("--meeting-date", help="resolve/close proposed_to_register: the Musdes/Muskel date")
    s.add_argument("--partner", help="resolve/close served_by_partner: the partner office code")
    s.add_argument("--forwarded-to", help="reject bukan_wewenang: the authority the case went to")
    s.add_argument("--refer-to", action="append", metavar="PARTNER=NEED",
                   help="refer_partner: a partner office and what it is asked to do (repeat for several)")
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
    s.add_argument("--by", choices=list(reports.GROUPINGS), default="kecamatan",
                   help="condition: a case with several conditions counts under each")
    s.add_argument("--format", choices=["table", "csv", "json", "png"], default="table")
    s.add_argument("--output", help="file for png (default report-FROM-TO.png)")

    s = command("roster", cmd_roster, "import the office's roster CSV")
    s.add_argument("op", choices=["import"])
    s.add_argument("file")
    s.add_argument("--dry-run", action="store_true", help="only validate")

    tokens_cli.add_parser(sub)
    reconcile_cli.add_parser(sub)

    s = command("calendar", cmd_calendar, "send every open case the calendar now in force")
    s.add_argument("op", choices=["refresh"])
    s.add_argument("--actor", required=True, help="the supervisor who orders it, e.g. KADIS")

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
