"""`helpdesk`: run the help desk and administer it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import insert, select, update

from bot.app import HelpDesk
from bot.channels.console import ConsoleChannel
from bot.cli import kb_quality
from bot.cli.calendar import calendar_app
from bot.cli.common import console, desk, fail, run, settings, with_started
from bot.cli.console_chat import chat_with_web
from bot.cli.digest import digest_app
from bot.cli.privacy import privacy_app
from bot.cli.progress import progress
from bot.cli.report import report_app
from bot.cli.sla import sla_app
from bot.config import DEFAULT_CONFIG, ConfigError, config_warnings, load_config
from bot.core.knowledge import KnowledgeBase, import_entries, load_entries
from bot.db import migrate
from bot.db.models import Identity, Person, Queue, QueueMember, table
from kb.files import STARTER_KB, KBFileError, load_kb_dir
from kb.language import detect_language
from kb.routing_eval import ROUTING_SETS, RoutingDataError, load_routing_set, measure_routing

app = typer.Typer(help="Advisory help desk: FAQ answers, expert queues and service levels.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="The service configuration: check a file, print the defaults.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
kb_app = typer.Typer(help="Knowledge base (FAQ entries).", no_args_is_help=True)
users_app = typer.Typer(help="People: experts, secretariat, practitioners.", no_args_is_help=True)
queues_app = typer.Typer(help="Expert queues.", no_args_is_help=True)
for sub, name in ((config_app, "config"), (db_app, "db"), (kb_app, "kb"), (users_app, "users"),
                  (queues_app, "queues"), (privacy_app, "privacy"), (report_app, "report"), (calendar_app, "calendar"),
                  (sla_app, "sla"), (digest_app, "digest")):
    app.add_typer(sub, name=name)
kb_quality.register(kb_app)

P, I, Q, QM = table(Person), table(Identity), table(Queue), table(QueueMember)  # noqa: E741
ROLES = ("practitioner", "expert", "secretariat")


@app.command("console")
def console_cmd() -> None:
    """Chat with the help desk in this terminal (the local channel; no token needed)."""
    app_ = desk()
    channel = ConsoleChannel()
    app_.channels["console"] = channel
    run(with_started(app_, lambda a: chat_with_web(a, channel)))


@app.command("run")
def run_cmd() -> None:
    """Run the help desk with every configured channel until stopped."""
    from bot.runner import serve

    run(serve(desk()))


@config_app.command("check")
def config_check(file: Annotated[Path | None, typer.Argument(help="config file")] = None) -> None:
    """Validate a service config file; report file, key and what is wrong."""
    path = file or (settings().helpdesk_config or DEFAULT_CONFIG)
    try:
        cfg = load_config(Path(path))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    from bot.core.calendar import CalendarError
    from bot.core.sla import SlaClock

    try:
        SlaClock(cfg)
    except CalendarError as exc:
        raise fail(f"{path}: calendars: {exc}") from None
    console.print(f"{path}: OK — {len(cfg.queues)} queues: {', '.join(cfg.queue_ids)}", markup=False)
    for warning in config_warnings(cfg, date.today()):
        console.print(f"{path}: warning: {warning}", markup=False)


@config_app.command("example")
def config_example() -> None:
    """Print the shipped default config, to copy and edit: `helpdesk config example > helpdesk.toml`."""
    typer.echo(DEFAULT_CONFIG.read_text(encoding="utf-8"), nl=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or upgrade the database schema."""
    app_ = desk()

    async def go() -> list[str]:
        with progress("db upgrade: revisions") as report:
            await migrate.upgrade(app_.engine, revision, progress=report)
        created = await app_.sync_config() if revision == "head" else []
        await app_.engine.dispose()
        return created

    created = run(go())
    console.print(f"database upgraded to {revision}", markup=False)
    _print_staff(created)


def _print_staff(created: list[str]) -> None:
    if created:
        console.print(f"staff from the config added as people: {', '.join(created)}", markup=False)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, e.g. base")) -> None:
    """Downgrade the database schema."""
    app_ = desk()

    async def go() -> None:
        await migrate.downgrade(app_.engine, revision)
        await app_.engine.dispose()

    run(go())
    console.print(f"database downgraded to {revision}", markup=False)


@kb_app.command("import")
def kb_import(directory: Annotated[Path | None, typer.Argument(
        help="folder of *.yaml files (default: the starter KB shipped with the package)")] = None) -> None:
    """Import FAQ files: new entries added, changed ones versioned, missing ones retired."""
    directory = directory or STARTER_KB
    app_ = desk()
    try:
        result = load_kb_dir(directory, known_queues=app_.config.queue_ids)
    except KBFileError as exc:
        raise fail(str(exc)) from None
    for warning in result.warnings:
        console.print(f"warning: {warning}", markup=False)

    async def go() -> dict[str, int]:
        await app_.check_database()
        async with app_.engine.begin() as conn:
            with progress("kb import: entries") as report:
                counts = await import_entries(conn, result.entries, app_.clock.now(), progress=report)
        await app_.engine.dispose()
        return counts

    counts = run(go())
    console.print(f"{len(result.entries)} entries read from {directory}: "
                  + ", ".join(f"{k} {v}" for k, v in counts.items()), markup=False)


async def _entries(app_: HelpDesk) -> list:
    await app_.check_database()
    async with app_.engine.connect() as conn:
        entries = await load_entries(conn)
    await app_.engine.dispose()
    return entries


@kb_app.command("list")
def kb_list(queue: Annotated[str | None, typer.Option(help="only this queue")] = None,
            lang: Annotated[str | None, typer.Option(help="only this language")] = None) -> None:
    """List the current FAQ entries."""
    entries = [e for e in run(_entries(desk())) if (not queue or e.queue == queue.upper())
               and (not lang or e.lang == lang)]
    table = Table("id", "queue", "lang", "question")
    for e in entries:
        table.add_row(e.id, e.queue, e.lang, e.question)
    console.print(table)
    console.print(f"{len(entries)} entries", markup=False)


@kb_app.command("show")
def kb_show(entry_id: str) -> None:
    """Show one FAQ entry."""
    found = [e for e in run(_entries(desk())) if e.id == entry_id]
    if not found:
        raise fail(f"no FAQ entry {entry_id!r}")
    e = found[0]
    console.print(f"{e.id} [{e.queue}, {e.lang}] — {e.question}", markup=False)
    for p in e.phrasings:
        console.print(f"  also: {p}", markup=False)
    console.print(f"\n{e.answer}\n\nsource: {e.source}\nowner: {e.owner}  review by: {e.review_by}"
                  f"  topic: {e.topic_key}  file: {e.origin}", markup=False)


@kb_app.command("routing")
def kb_routing(sets: Annotated[list[Path] | None, typer.Argument(help="routing sets (JSON lines)")] = None,
               kb_dir: Annotated[Path, typer.Option(help="FAQ files to route with")] = Path("kb/content"),
               show_misses: Annotated[bool, typer.Option("--misses", help="list the questions routed wrongly")] = False,
               ) -> None:
    """Routing accuracy: how many questions of each set reach the expected queue (reads files, stores nothing)."""
    app_ = desk()
    paths = sets or [ROUTING_SETS / "routing.jsonl", ROUTING_SETS / "routing_heldout.jsonl"]
    try:
        kb = KnowledgeBase(load_kb_dir(kb_dir, known_queues=app_.config.queue_ids).entries, app_.config)
        reports = [(path, measure_routing(load_routing_set(path), kb.route)) for path in paths]
    except (KBFileError, RoutingDataError, OSError) as exc:
        raise fail(str(exc)) from None
    for path, report in reports:
        console.print(f"{path}: {report.correct}/{report.total} routed as expected ({report.accuracy:.1%})",
                      markup=False, soft_wrap=True)
        for case, got in report.misses if show_misses else ():
            console.print(f"  [{case.lang}] {case.text}  expected {case.queue or '-'}, got {got or '-'}", markup=False,
                          soft_wrap=True)


@app.command("triage")
def triage_cmd(text: str, lang: Annotated[str | None, typer.Option(help="en, es or fr")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
               kb_dir: Annotated[Path | None, typer.Option(help="read FAQ files instead of the database")] = None,
               ) -> None:
    """Show what the bot would do with a question, and why (stores nothing)."""
    app_ = desk()
    if kb_dir is not None:
        try:
            entries = load_kb_dir(kb_dir, known_queues=app_.config.queue_ids).entries
        except KBFileError as exc:
            raise fail(str(exc)) from None
    else:
        entries = run(_entries(app_))
    kb = KnowledgeBase(entries, app_.config)
    language = lang or detect_language(text)
    result = kb.triage(text, language)
    data = result.as_dict()
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(f"language: {language}\ndecision: {result.decision}\nthresholds: {data['thresholds']}",
                  markup=False)
    for c in result.candidates:
        console.print(f"  {c.score:.3f}  {c.entry_id} [{c.queue}, {c.lang}]  {c.matched_text}", markup=False)
    console.print(f"route: {result.route.queue or 'ask the practitioner'}", markup=False)
    for reason in result.route.reasons:
        console.print(f"  - {reason}", markup=False)


@users_app.command("add")
def users_add(handle: str, role: Annotated[str, typer.Option(help="practitioner|expert|secretariat")] = "expert",
              name: Annotated[str | None, typer.Option(help="display name")] = None,
              channel: Annotated[str, typer.Option(help="console, telegram or slack")] = "console",
              external_id: Annotated[str | None, typer.Option(help="user id on that channel")] = None,
              chat_id: Annotated[str | None, typer.Option(help="private chat id on that channel")] = None,
              lang: str = "en", timezone: str = "UTC") -> None:
    """Add a person with one channel identity (or give one to staff the config names)."""
    if role not in ROLES:
        raise fail(f"role must be one of {', '.join(ROLES)}")
    app_ = desk()

    async def go() -> int:
        await app_.check_database()
        now = app_.clock.now()
        async with app_.engine.begin() as conn:
            pid = (await conn.execute(select(P.c.id).where(P.c.handle == handle))).scalar()
            if pid is None:
                pid = (await conn.execute(insert(P).values(
                    handle=handle, display_name=name or handle.title(), role=role, language=lang,
                    timezone=timezone, blocked=False, created_at=now).returning(P.c.id))).scalar_one()
            elif (await conn.execute(select(I.c.id).where(I.c.person_id == pid, I.c.channel == channel))).first():
                raise fail(f"a person with handle {handle!r} already exists on {channel}")
            else:  # named in the config (a person since `db upgrade`), now given a way to reach them
                await conn.execute(update(P).where(P.c.id == pid).values(
                    display_name=name or handle.title(), role=role, language=lang, timezone=timezone))
            user = external_id or handle
            await conn.execute(insert(I).values(person_id=pid, channel=channel, external_user_id=user,
                                                chat_id=chat_id or f"dm:{user}", created_at=now))
        await app_.sync_config()
        await app_.engine.dispose()
        return int(pid)

    console.print(f"added {handle} (#{run(go())}) as {role}", markup=False)


@users_app.command("login-link")
def users_login_link(handle: str) -> None:
    """Print a one-time web login link for an expert or the secretariat (15 minutes, single use)."""
    from bot.core.login import staff_login_url

    app_ = desk()

    async def go() -> str | None:
        await app_.check_database()
        async with app_.engine.begin() as conn:
            url = await staff_login_url(conn, handle, app_.clock.now(), await app_.links_base(conn))
        await app_.engine.dispose()
        return url

    url = run(go())
    if url is None:
        raise fail(f"no expert or secretariat member with handle {handle!r} (see `helpdesk users list`)")
    console.print(url, markup=False, soft_wrap=True)


@users_app.command("sync")
def users_sync() -> None:
    """Make every expert, lead and secretariat member named in the config a person, with their queues and roles
    (`db upgrade` and every start do this too)."""
    app_ = desk()

    async def go() -> list[str]:
        await app_.check_database()
        created = await app_.sync_config()
        await app_.engine.dispose()
        return created

    created = run(go())
    _print_staff(created)
    staff = ", ".join(sorted(app_.config.staff_handles))
    console.print(f"config synced: {len(app_.config.queues)} queues; staff {staff}", markup=False)


@users_app.command("list")
def users_list() -> None:
    """List people and their roles."""
    app_ = desk()

    async def go() -> list:
        await app_.check_database()
        async with app_.engine.connect() as conn:
            rows = list(await conn.execute(select(P.c.id, P.c.handle, P.c.display_name, P.c.role,
                                                  P.c.language).order_by(P.c.id)))
        await app_.engine.dispose()
        return rows

    table = Table("id", "handle", "name", "role", "lang")
    for r in run(go()):
        table.add_row(str(r.id), r.handle or "", r.display_name, r.role, r.language)
    console.print(table)


@users_app.command("set-role")
def users_set_role(handle: str, role: str) -> None:
    """Change a person's role."""
    if role not in ROLES:
        raise fail(f"role must be one of {', '.join(ROLES)}")
    app_ = desk()

    async def go() -> int:
        await app_.check_database()
        async with app_.engine.begin() as conn:
            result = await conn.execute(update(P).where(P.c.handle == handle).values(role=role))
        await app_.engine.dispose()
        return int(result.rowcount)

    if not run(go()):
        raise fail(f"no person with handle {handle!r}")
    console.print(f"{handle} is now {role}", markup=False)


@queues_app.command("list")
def queues_list() -> None:
    """List queues with their experts (leads marked *)."""
    app_ = desk()

    async def go() -> dict[str, list[str]]:
        await app_.check_database()
        await app_.sync_config()
        async with app_.engine.connect() as conn:
            rows = await conn.execute(select(QM.c.queue_id, QM.c.is_lead, P.c.handle)
                                      .join(P, P.c.id == QM.c.person_id))
            members: dict[str, list[str]] = {}
            for r in rows:
                members.setdefault(r.queue_id, []).append(f"{r.handle}{'*' if r.is_lead else ''}")
        await app_.engine.dispose()
        return members

    members = run(go())
    table = Table("queue", "name", "experts (* lead)")
    for q in app_.config.queues:
        table.add_row(q.id, q.name, ", ".join(sorted(members.get(q.id, []))) or "—")
    console.print(table)


@queues_app.command("add-member")
def queues_add_member(queue: str, handle: str, lead: bool = False) -> None:
    """Add an expert to a queue (optionally as its lead)."""
    app_ = desk()
    if queue.upper() not in app_.config.queue_ids:
        raise fail(f"unknown queue {queue!r}; queues: {', '.join(app_.config.queue_ids)}")

    async def go() -> None:
        await app_.check_database()
        await app_.sync_config()
        async with app_.engine.begin() as conn:
            pid = (await conn.execute(select(P.c.id).where(P.c.handle == handle))).scalar()
            if pid is None:
                raise fail(f"no person with handle {handle!r}; add them with `helpdesk users add`")
            await conn.execute(QM.delete().where(QM.c.queue_id == queue.upper(), QM.c.person_id == pid))
            await conn.execute(insert(QM).values(queue_id=queue.upper(), person_id=pid, is_lead=lead))
            await conn.execute(update(P).where(P.c.id == pid, P.c.role == "practitioner").values(role="expert"))
        await app_.engine.dispose()

    run(go())
    console.print(f"{handle} is now {'lead' if lead else 'expert'} of {queue.upper()}", markup=False)
