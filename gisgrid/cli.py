"""The `gisgrid` command line. Errors a user can cause print one line on stderr and exit 2;
with --json, stdout carries the JSON document alone and everything else goes to stderr."""

from __future__ import annotations

import json
import sys
import unicodedata
from fractions import Fraction

import click

from .services import office
from .domain import assignment, scoring
from .domain.errors import GisgridError
from .reports import scores
from .services import OPERATOR, accounts
from .services import layers as layer_work
from .services import month as month_work
from .settings import load as load_settings
from .storage import Store
from .gis.validation import report_json


def log(message: str) -> None:
    click.echo(message, err=True)


def emit_json(document) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text, size: int, right: bool = False) -> str:
    text = "" if text is None else str(text)
    fill = " " * max(0, size - width(text))
    return fill + text if right else text + fill


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    sizes = [max([width(str(h))] + [width("" if r[i] is None else str(r[i])) for r in rows])
             for i, h in enumerate(headers)]
    lines = ["  ".join(pad(h, sizes[i], i in right) for i, h in enumerate(headers)),
             "  ".join("-" * s for s in sizes)]
    lines += ["  ".join(pad(v, sizes[i], i in right) for i, v in enumerate(r)) for r in rows]
    return "\n".join(lines)


def shown(value) -> str:
    """A score as people read it: rounded half up to 0.01 (from the exact value)."""
    return "-" if value is None else f"{scoring.as_points(Fraction(str(value))):.2f}"


def show_month(document: dict) -> None:
    """The month's ranking tables: grids (overall and within their class), then towns; the
    document carries exact scores (their fractions' texts), rounded here for people."""
    rows = []
    for grid in document["grids"]:
        roads = "  ".join(f"{r['code']} {shown(r.get('exact', r['score']))}" for r in grid["roads"]) \
            or "未考核 not assessed"
        deducted = sum(Fraction(str(d["points"])) for d in grid.get("grid_deductions", ()))
        rows.append([grid["rank"] or "-", grid.get("class_rank") or "-", grid["code"], grid["name"], grid["town"],
                     grid["class"], shown(grid.get("exact", grid["score"])), shown(deducted) if deducted else "-",
                     _rate(grid.get("rectification")), roads])
    click.echo(f"{document['month']} 网格考核排名 grid ranking (rulebook {document['rulebook']})")
    click.echo(table(["排名", "类内", "网格", "名称", "镇办", "等级", "得分", "整改扣分", "整改率", "道路 roads"], rows,
                     right={0, 1, 6, 7, 8}))
    click.echo("")
    click.echo(f"{document['month']} 镇办排名 town ranking")
    click.echo(table(["排名", "镇办", "得分", "考核网格"],
                     [[t["rank"] or "-", t["town"], shown(t.get("exact", t["score"])), t["grids"]]
                      for t in document["towns"]], right={0, 2, 3}))


def _rate(rectification: dict | None) -> str:
    """A grid's rectification rate for people: 1/3 (33.33%), or - when nothing was due."""
    if not rectification or rectification.get("rate") is None:
        return "-"
    return f"{rectification['on_time']}/{rectification['due']} ({shown(rectification['rate'] * 100)}%)"


class Context:
    """What every command shares: the settings, built once (`--db` over them), and the store."""

    def __init__(self, db: str | None):
        self.settings = load_settings({"DATABASE_URL": db})
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(settings=self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


pass_context = click.make_pass_decorator(Context)


@click.group(help="Grid assessment (网格化管理考核): grids, roads, monthly samples, findings, scores.")
@click.option("--db", metavar="URL", help="SQLAlchemy URL or SQLite file (default: $GISGRID_DATABASE_URL, "
                                          "else instance/gisgrid.sqlite).")
@click.version_option(package_name="gisgrid")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    ctx.obj = Context(db)
    ctx.call_on_close(ctx.obj.close)


@cli.command(help="Create or upgrade the database schema.")
@pass_context
def init(ctx: Context) -> None:
    ctx.store.migrate()
    log(f"database ready: {ctx.store.engine.url.render_as_string(hide_password=True)}")


@cli.group("import", help="Import grids, roads or findings.")
def import_() -> None:
    pass


def _import_layer(kind: str):
    columns = ("name", "town", "grid_class", "leader") if kind == "grids" else ("name", "grade", "grid")

    @import_.command(kind, help=f"Import {kind} polygons (GeoJSON, Shapefile or zipped, GeoPackage, KML, FlatGeobuf). "
                                "A value the file does not give keeps the stored one; stored features the file "
                                "lacks are left alone.")
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--crs", help="CRS of a file that has none (or has a wrong one), e.g. EPSG:4547.")
    @click.option("--layer", help="Layer name inside a GeoPackage or a zip.")
    @click.option("--field", "fields", multiple=True, metavar="OURS=THEIRS",
                  help="Read our column from the file's field, e.g. --field code=WGBH (repeatable).")
    @click.option("--clear", "clear", multiple=True, type=click.Choice(columns),
                  help="Empty this column where the file gives no value (by default the stored value is kept; "
                       "repeatable).")
    @click.option("--retire-missing", is_flag=True, help="Retire the stored features the file does not have.")
    @click.option("--dry-run", is_flag=True, help="Show what the import would change; write nothing.")
    @click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
    @pass_context
    def command(ctx: Context, path: str, crs: str | None, layer: str | None, fields: tuple[str, ...],
                clear: tuple[str, ...], retire_missing: bool, dry_run: bool, as_json: bool) -> None:
        mapping = dict(f.split("=", 1) for f in fields if "=" in f)
        if len(mapping) != len(fields):
            raise click.BadParameter("give each --field as OURS=THEIRS, e.g. code=WGBH", param_hint="--field")
        # a local operator's own file: every GDAL driver, as web uploads never have
        result = layer_work.import_layer(ctx.store, OPERATOR, kind, path, crs=crs, layer=layer, log=log,
                                         fields=mapping or None, restricted=False, dry_run=dry_run, clear=clear,
                                         retire_missing=retire_missing)
        if as_json:
            emit_json(result.changes.as_json())
        elif dry_run:
            show_changes(result.changes, retire_missing)
        if dry_run:
            log(f"{kind}: {result.created} would be added, {result.updated} updated, {result.unchanged} unchanged; "
                "nothing written (--dry-run)")
        else:
            log(f"{kind}: {result.created} added, {result.updated} updated, {result.unchanged} unchanged"
                + (f", {len(result.retired)} retired" if result.retired else ""))

    return command


def show_changes(changes, retire_missing: bool) -> None:
    """The change list for a person: one line per new, changed and missing feature."""
    for code in changes.new:
        click.echo(f"+ {code}")
    for entry in changes.changed:
        what = [f"{k}: {old!r} → {new!r}" for k, (old, new) in entry["attributes"].items()]
        if entry["area_changed_m2"]:
            what.append(f"shape: {entry['area_changed_m2']:g} m² moved")
        click.echo(f"~ {entry['code']}  " + "; ".join(what or ["shape"]))
    for code in changes.missing:
        click.echo(f"{'-' if retire_missing else '?'} {code}" + ("" if retire_missing else "  (not in the file; kept)"))


_import_layer("grids")
_import_layer("roads")


@import_.command("findings", help="Import findings (points with id, rule, count, area_m2, observed_at, deadline, note).")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--crs", help="CRS of a file that has none, e.g. EPSG:4547.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
def import_findings(ctx: Context, path: str, crs: str | None, as_json: bool) -> None:
    result = month_work.import_findings(ctx.store, OPERATOR, path, crs=crs, log=log, restricted=False)
    if as_json:
        emit_json(result.as_json())
        return
    for rejected in result.rejected:
        log(f"rejected {rejected['id']}: {rejected['reason']}")


@import_.command("osm", help="Draft road polygons (and grids, if there are none) from an OpenStreetMap extract.")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_context
def import_osm(ctx: Context, path: str) -> None:
    result = layer_work.draft_from_osm(ctx.store, OPERATOR, path, log=log, restricted=False)
    log(f"roads: {result['created']} added, {result['kept']} left as they were; grids: {result['grids']} drafted")


@cli.command(help="Check the grid and road layers: every defect, errors first.")
@click.option("--json", "as_json", is_flag=True, help="Print the defects as JSON.")
@pass_context
def validate(ctx: Context, as_json: bool) -> None:
    defects = office.validation_report(ctx.store)
    report = report_json(defects)
    if as_json:
        emit_json(report)
        return
    for defect in defects:
        click.echo(f"{'error' if defect.blocking else 'warning'}\t{defect.kind}\t{defect.message}")
    log(f"{report['blocking']} errors, {report['warnings']} warnings")
    if report["blocking"]:
        sys.exit(1)   # errors block saving on the map; a script should stop too


@cli.command(help="Draw the month's sample: two roads per grid, reproducibly.")
@click.argument("month")
@click.option("--seed", type=int, help="Seed of the draw (recorded; default: a random one).")
@click.option("--roads", help="Designate roads: CODE,CODE,... (at most two per grid).")
@click.option("--force", is_flag=True, help="Redraw even though findings are scored against the sample.")
@click.option("--json", "as_json", is_flag=True, help="Print the sample as JSON.")
@pass_context
def sample(ctx: Context, month: str, seed: int | None, roads: str | None, force: bool, as_json: bool) -> None:
    result = month_work.draw_sample(ctx.store, OPERATOR, month, seed=seed,
                                    roads=(roads or "").split(",") if roads else (), force=force, log=log)
    if not result.changed:
        log(f"{result.month}: the sample already stands as asked (seed {result.seed})")
    if as_json:
        emit_json(result.as_json())
        return
    click.echo(f"{result.month} seed {result.seed} ({result.method})")
    click.echo(table(["网格 grid", "道路 roads"], [[g, ", ".join(r)] for g, r in result.grids.items()]))


@cli.command(help="Score a month: roads, grids, ranks.")
@click.argument("month")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@pass_context
def score(ctx: Context, month: str, as_json: bool) -> None:
    from .domain.rulebook import rulebook_for
    from .reports.assessment import not_spot_deductions

    document = scores.month_json(ctx.store, month, exact=True)
    emit_json(scores.public(document)) if as_json else show_month(document)
    for d in not_spot_deductions(document, rulebook_for(document["month"], ctx.store.rulebooks())):
        log(f"warning: {d['grid']} {d['road']}: {d['rule']} deducts {d['points']:g} from the road, but it is not a "
            "spot in the street (a finding stored before such pins were refused); delete it with a reason")


@cli.command(help="Year scores: the mean of each grid's assessed months, ranked; published months only, "
                  "as the year page and the year bulletin count them.")
@click.argument("year")
@click.option("--drafts", is_flag=True, help="Count the months still in draft too (a provisional year).")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@pass_context
def annual(ctx: Context, year: str, drafts: bool, as_json: bool) -> None:
    document = scores.year_json(ctx.store, year, published_only=not drafts)
    if as_json:
        emit_json(document)
        return
    counted = "、".join(document["months"]) or "—"
    log(f"{document['year']}: {'drawn months, drafts included' if drafts else 'published months'} counted: {counted}"
        + ("" if drafts or document["months"] else " (none published yet; --drafts counts the drafts)"))
    click.echo(f"{document['year']} 年度排名 year ranking")
    click.echo(table(["排名", "类内", "网格", "名称", "镇办", "等级", "得分", "月数"],
                     [[g["rank"], g["class_rank"] or "-", g["code"], g.get("name"), g.get("town"), g.get("class"),
                       shown(g["score"]), len(g["months"])] for g in document["grids"]], right={0, 1, 6, 7}))
    click.echo("")
    click.echo(f"{document['year']} 镇办年度排名 town year ranking")
    click.echo(table(["排名", "镇办", "得分", "月数"], [[t["rank"], t["town"], shown(t["score"]), len(t["months"])]
                                                     for t in document["towns"]], right={0, 2, 3}))


@cli.command(help="Export grids, roads, findings or scores (.gpkg, .geojson, .shp).")
@click.argument("what", type=click.Choice(scores.EXPORTS))
@click.argument("path", type=click.Path(dir_okay=False))
@pass_context
def export(ctx: Context, what: str, path: str) -> None:
    scores.export(ctx.store, what, path, log=log)


@cli.command(help="Write the bulletin (通报) of a month (YYYY-MM) or the year-end one (YYYY): an A4 PDF "
                  "(headless Chromium) and/or a DOCX to edit in Word or WPS.")
@click.argument("period", metavar="MONTH_OR_YEAR")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), help="Where to write the PDF.")
@click.option("--docx", "docx_path", type=click.Path(dir_okay=False), help="Where to write the DOCX.")
@click.option("--number", help="The document number (default: from the BULLETIN_NUMBER setting).")
@click.option("--remark", "remarks", multiple=True, help="A remark printed under 备注 (repeatable).")
@click.option("--issued", type=click.DateTime(formats=["%Y-%m-%d"]), help="The issuing date (default: today).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_context
def bulletin(ctx: Context, period: str, pdf_path: str | None, docx_path: str | None, number: str | None,
             remarks: tuple[str, ...], issued, lang: str) -> None:
    from .web import create_app
    from .web.review import bulletin_docx_file, bulletin_pdf

    if not pdf_path and not docx_path:
        raise click.UsageError("give --pdf PATH, --docx PATH or both")
    missing: list[str] = []
    options = {"number": number, "remarks": list(remarks), "issued": issued.date() if issued else None,
               "missing": missing}
    app = create_app(settings=ctx.settings)
    try:
        if docx_path:
            size = bulletin_docx_file(app, period, docx_path, **options)
            log(f"bulletin of {period} written to {docx_path} ({size} bytes)")
        if pdf_path:
            size = bulletin_pdf(app, period, pdf_path, lang=lang, **options)
            log(f"bulletin of {period} written to {pdf_path} ({size} bytes)")
    finally:
        app.extensions["gisgrid.storage"].dispose()
    for path in sorted(set(missing)):
        log(f"warning: photo {path} is not there, left out of the bulletin (this command reads photos from "
            f"{ctx.settings.photo_dir}: give it the server's GISGRID_PHOTO_DIR or GISGRID_INSTANCE_PATH)")
    _warn_unpublished(ctx.store, period)


def _warn_unpublished(store: Store, period: str) -> None:
    """Say so when a bulletin was written of a period not yet published: a month in draft (its
    bulletin is marked as one), a year with no month published (its rankings are empty)."""
    from .domain.months import parse_month, parse_year
    from .storage import publishing

    period = period.strip()
    if len(period) == 4:
        if not publishing.published_months(store, parse_year(period)):
            log(f"warning: no month of {period} is published yet; the year bulletin counts published months only")
    elif not publishing.is_published(store, parse_month(period)):
        log(f"warning: {parse_month(period)} is a draft, not published: the bulletin is marked as a draft")


@cli.command(help="Load the demo district, draw this month, generate findings and print the ranking.")
@pass_context
def demo(ctx: Context) -> None:
    from .services.demo import load_demo

    month = load_demo(ctx.store, log=log)
    show_month(scores.month_json(ctx.store, month, exact=True))


@cli.command(help="Benchmark on a synthetic city: assignment vs geopandas.sjoin, scoring, import.")
@click.option("--grids", default=20000, show_default=True, help="Number of grids (8 roads each).")
@click.option("--findings", default=1_000_000, show_default=True, help="Number of findings.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench(grids: int, findings: int, as_json: bool) -> None:
    from .bench import run_bench

    figures = run_bench(grids, findings, log=log)
    if as_json:
        emit_json(figures)
    else:
        click.echo(table(["figure", "value"], [[k, v] for k, v in figures.items()], right={1}))


@cli.group(help="Accounts.")
def user() -> None:
    pass


@user.command("add", help="Add an account; its password is generated and printed once.")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(accounts.ACCOUNT_ROLES))
@click.option("--lang", default="zh", show_default=True, type=click.Choice(["zh", "en"]))
@click.option("--towns", help="The towns an inspector or a town office works for: TOWN,TOWN,...")
@pass_context
def user_add(ctx: Context, name: str, role: str, lang: str, towns: str | None) -> None:
    ctx.store.migrate()
    password = accounts.add_account(ctx.store, OPERATOR, name, role, lang=lang, towns=_names(towns))
    click.echo(f"{name} ({role}) password: {password}")


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@user.command("list", help="List the accounts: name, role, active, language, towns.")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@pass_context
def user_list(ctx: Context, as_json: bool) -> None:
    rows = [{k: a[k] for k in ("name", "role", "active", "lang", "towns")}
            for a in accounts.list_accounts(ctx.store, OPERATOR)]
    if as_json:
        emit_json({"users": rows})
    else:
        click.echo(table(["name", "role", "active", "lang", "towns"],
                         [[r["name"], r["role"], "yes" if r["active"] else "no", r["lang"], ",".join(r["towns"])]
                          for r in rows]))


@user.command("disable", help="Disable an account: it cannot log in, and every session of it ends now.")
@click.argument("name")
@pass_context
def user_disable(ctx: Context, name: str) -> None:
    ctx.store.require_schema()
    ended = accounts.set_active(ctx.store, OPERATOR, name, False)
    log(f"{name} disabled; {ended} sessions ended")


@user.command("enable", help="Enable a disabled account again.")
@click.argument("name")
@pass_context
def user_enable(ctx: Context, name: str) -> None:
    ctx.store.require_schema()
    accounts.set_active(ctx.store, OPERATOR, name, True)
    log(f"{name} enabled")


@user.command("reset-password", help="Give an account a new generated password (printed once); its sessions end.")
@click.argument("name")
@pass_context
def user_reset_password(ctx: Context, name: str) -> None:
    ctx.store.require_schema()
    password = accounts.reset_password(ctx.store, OPERATOR, name)
    click.echo(f"{name} password: {password}")


@cli.command(help="Share the month's sampled roads among inspectors: even shares, a grid's roads together.")
@click.argument("month")
@click.option("--inspectors", required=True, metavar="NAME,NAME,...", help="The inspectors' account names.")
@click.option("--cross-town", is_flag=True, help="No inspector on the roads of a town they work for (交叉检查).")
@click.option("--json", "as_json", is_flag=True, help="Print the assignment as JSON.")
@pass_context
def assign(ctx: Context, month: str, inspectors: str, cross_town: bool, as_json: bool) -> None:
    ctx.store.require_schema()
    given = month_work.assign_roads(ctx.store, OPERATOR, month, _names(inspectors), cross_town=cross_town)
    if as_json:
        emit_json({"month": month.strip(), "roads": dict(sorted(given.items()))})
        return
    click.echo(table(["道路 road", "督查 inspector"], [[road, name] for road, name in sorted(given.items())]))
    log(", ".join(f"{name} {count}" for name, count in sorted(assignment.shares(given).items())))


@cli.command(help="Run the web app under gunicorn (production WSGI server).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Processes.")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Requests each process serves at once; 1 is gunicorn's sync worker.")
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    from .reports import assessment
    from .web import create_app

    app = create_app(settings=ctx.settings)
    store = app.extensions["gisgrid.storage"]
    base = f"http://{host}:{port}"
    # no passwords printed: output is lost, and whoever reads it first owns the installation;
    # the first admin types their own on the first-run page, then adds the other accounts
    if accounts.needs_first_admin(store):
        click.echo(f"no administrator yet: open {base}/setup to set the first administrator's password, "
                   f"then {base}/admin/ to add accounts, draw and assign the month", err=True)
    else:
        click.echo(f"the office's pages (accounts, the month's draw and assignment): {base}/admin/", err=True)

    class Server(BaseApplication):
        def load_config(self):
            # Threads, because a sync worker reads a request's body to its end before anything else:
            # two tablets uploading photos at 12 KB/s held both workers and every page waited.
            # A thread waiting on a slow body leaves the others free (python -m gisgrid.bench_serve).
            # 16, as one worker may accept every connection there is: ten slow uploads then still
            # leave it six threads for pages.
            worker = {"worker_class": "gthread", "threads": threads} if threads > 1 else {"worker_class": "sync"}
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "accesslog": "-",
                               "post_fork": lambda _server, _worker: store.engine.dispose(close=False),
                               **worker}.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    # scored here, the draft months are kept in every worker forked below: no reviewer's first
    # view after a restart waits for a city's month to be scored
    assessment.keep_drafts(store, log=lambda message: click.echo(message, err=True))
    click.echo(f"gisgrid is serving on http://{host}:{port}/", err=True)
    # The workers are forked from this process: a pooled connection it opened (the migration,
    # the check above) would be shared by every worker, their statements interleaved on one
    # socket (PostgreSQL answered one worker's query to another; a finding answered 201 was
    # rolled back). Closed here; each worker opens its own (and drops any it inherited unclosed).
    store.dispose()
    Server().run()


def main(argv: list[str] | None = None) -> int:
    from . import cli_notices  # noqa: F401  (registers `gisgrid notice …` on the group)

    try:
        cli.main(args=argv, prog_name="gisgrid", standalone_mode=False)
    except GisgridError as exc:
        click.echo(f"gisgrid: error: {exc.message}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("gisgrid: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
