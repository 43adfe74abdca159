"""`gisgrid notice …`: rectification notices from the command line (the operator acts, as for
every command): issue one to a grid, confirm an item fixed, list them, print one as PDF."""

from __future__ import annotations

import click

from .cli import cli, emit_json, import_, log, pass_context, table
from .domain.months import parse_month
from .services import OPERATOR
from .services import notice_import
from .services import rectification as work


@cli.group(help="Rectification notices (整改通知书): issue, confirm fixes, list, print.")
def notice() -> None:
    pass


@notice.command("issue", help="Issue a notice to GRID with typed items or items from findings.")
@click.argument("grid")
@click.option("--deadline", required=True, metavar="YYYY-MM-DD", help="Fix by this date (inclusive).")
@click.option("--rule", type=click.Choice(["6.3.1", "5.4", "5.5"]), default=None,
              help="6.3.1 notice items (default), 5.4 outdoor ads, 5.5 assigned ad tasks.")
@click.option("--issued", metavar="YYYY-MM-DD", help="The issue date (default: today).")
@click.option("--item", "texts", multiple=True, metavar="TEXT", help="An item to fix (repeat for more).")
@click.option("--finding", "findings", multiple=True, metavar="ID", help="An item from a finding (repeat for more).")
@click.option("--json", "as_json", is_flag=True, help="Print the notice as JSON.")
@pass_context
def notice_issue(ctx, grid: str, deadline: str, rule: str | None, issued: str | None, texts: tuple[str, ...],
                 findings: tuple[str, ...], as_json: bool) -> None:
    if bool(texts) == bool(findings):
        raise click.UsageError("give --item TEXT ... or --finding ID ..., one of the two")
    items = [{"text": t} for t in texts] or [{"finding": f} for f in findings]
    document = work.issue(ctx.store, OPERATOR, grid, deadline, items, rule=rule, issued=issued)
    if as_json:
        emit_json(document)
        return
    click.echo(f"{document['number']} (notice {document['notice']}) to {document['grid']}, rule {document['rule']}, "
               f"issued {document['issued']}, deadline {document['deadline']}")
    for item in document["items"]:
        click.echo(f"  {item['item']}. {item['text']}")


@notice.command("fix", help="Confirm item ITEM of NOTICE (its id or number) fixed on a date (a re-inspection).")
@click.argument("notice_ref", metavar="NOTICE")
@click.argument("item", type=int)
@click.option("--on", "on", required=True, metavar="YYYY-MM-DD", help="The date it was found fixed.")
@pass_context
def notice_fix(ctx, notice_ref: str, item: int, on: str) -> None:
    document = work.check(ctx.store, OPERATOR, notice_ref, item, fixed=True, on=on)
    log(f"{document['number']} item {item} confirmed fixed on {on}")


@notice.command("list", help="List notices and their items.")
@click.option("--grid", help="Of one grid.")
@click.option("--month", metavar="YYYY-MM", help="With a deadline in this month.")
@click.option("--open", "open_only", is_flag=True, help="Only those with an item not confirmed fixed.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@pass_context
def notice_list(ctx, grid: str | None, month: str | None, open_only: bool, as_json: bool) -> None:
    found = work.listing(ctx.store, OPERATOR, grid=grid, month=parse_month(month) if month else None,
                         open_only=open_only)
    if as_json:
        emit_json({"notices": found})
        return
    click.echo(table(["id", "文号 number", "网格", "规则", "下发", "期限", "项", "报告整改", "复查整改"],
                     [[n["notice"], n["number"], n["grid"], n["rule"], n["issued"], n["deadline"], i["item"],
                       i["reported_on"] or "-", i["fixed_on"] or "-"] for n in found for i in n["items"]]))


@notice.command("pdf", help="Print NOTICE (its id or number) as an A4 PDF: items, photos, map, deadline.")
@click.argument("notice_ref", metavar="NOTICE")
@click.option("--pdf", "pdf_path", required=True, type=click.Path(dir_okay=False), help="Where to write it.")
@pass_context
def notice_pdf(ctx, notice_ref: str, pdf_path: str) -> None:
    from .web import create_app
    from .web.notices import notice_pdf_file

    app = create_app(settings=ctx.settings)
    try:
        size = notice_pdf_file(app, notice_ref, pdf_path)
    finally:
        app.extensions["gisgrid.storage"].dispose()
    log(f"notice {notice_ref} written to {pdf_path} ({size} bytes)")


@import_.command("notices", help="Import notices kept in Excel: a CSV or XLSX file, one row per item (文号, 网格, 条款, "
                                 "下发日期, 整改期限, 序号, 整改内容, 报告整改日期, 复查整改日期). A notice stored under "
                                 "its number is never overwritten.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what the import would add; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@pass_context
def import_notices(ctx, path: str, dry_run: bool, as_json: bool) -> None:
    ctx.store.migrate()
    planned = notice_import.plan(ctx.store, OPERATOR, path)
    if as_json:
        emit_json(planned.as_json())
    else:
        for notice in planned.new:
            click.echo(f"+ {notice['number']}  {notice['grid']}  {notice['rule']}  {notice['deadline']:%Y-%m-%d}  "
                       f"{len(notice['items'])} items")
        for number in planned.unchanged:
            click.echo(f"= {number}  (stored already)")
        for conflict in planned.conflicts:
            why = "stored with other content: kept as stored" if conflict["kind"] == "stored" else \
                f"due in {conflict['month']}, which is published"
            click.echo(f"! {conflict['number']}  ({why})")
        for error in planned.errors:
            log(f"row {error['row']}: {error['message']}")
    if dry_run:
        log(f"notices: {len(planned.new)} would be added, {len(planned.unchanged)} stored already, "
            f"{len(planned.conflicts)} kept as stored; nothing written (--dry-run)")
        return
    written = notice_import.write(ctx.store, OPERATOR, planned)
    log(f"notices: {written} added, {len(planned.unchanged)} stored already, {len(planned.conflicts)} kept as stored")
