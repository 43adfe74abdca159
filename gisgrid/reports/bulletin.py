"""The bulletin (通报) as offices issue it: the issuing office and document number, the title,
the town ranking, the grid ranking overall and within each class with the change against last
month, the largest deductions with their photos, remarks, the issuing date and the 抄送 line.
One plain dict for a month and one for the year's end; the HTML/PDF and DOCX writers only lay it out."""

from __future__ import annotations

from datetime import date

from .. import clock
from ..domain.errors import GisgridError
from ..domain.grid_classes import CODES as CLASS_ORDER, class_name
from ..domain.months import parse_month, parse_year, previous_month
from ..storage import Store
from . import assessment

def month_label(month: str) -> str:
    """2026-12 as a document writes it: 2026年12月."""
    year, mon = parse_month(month).split("-")
    return f"{int(year)}年{int(mon)}月"


def date_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _number(pattern: str, setting: str, **values) -> str:
    try:
        return pattern.format(**values)
    except (KeyError, IndexError, ValueError):
        raise GisgridError("The setting {setting} ({pattern!r}) may name only {names} in braces",
                           setting=setting, pattern=pattern, names=", ".join("{" + k + "}" for k in values)) from None


def _head(store: Store, number: str | None, remarks, issued: date | None) -> dict:
    issued = issued or clock.today(store.timezone())
    return {"office": store.config["BULLETIN_OFFICE"], "cc": store.config["BULLETIN_CC"],
            "issued": issued.isoformat(), "issued_label": date_label(issued),
            "remarks": [r.strip() for r in (remarks or []) if r and r.strip()], "number": number}


def _by_class(grids: list[dict]) -> list[dict]:
    """The assessed grids of each class, in their class's order; `label` is the class's name in
    the document's language (Chinese, as its title): a page in English names it by `class`."""
    groups = []
    for code in CLASS_ORDER:
        members = sorted((g for g in grids if g.get("class") == code and g.get("class_rank") is not None),
                         key=lambda g: (g["class_rank"], g["code"]))
        if members:
            groups.append({"class": code, "label": class_name(code, "zh"), "grids": members})
    return groups


def month_bulletin(store: Store, month: str, number: str | None = None, remarks=None,
                   issued: date | None = None) -> dict:
    """The month's bulletin. `number` overrides the document number the setting makes,
    `remarks` (paragraphs) are printed under 备注 after the standing ones, `issued` is the
    issuing date (default: today in the district)."""
    month = parse_month(month)
    report = assessment.month_report(store, month)
    year, mon = (int(p) for p in month.split("-"))
    head = _head(store, number, remarks, issued)
    head["number"] = number or _number(store.config["BULLETIN_NUMBER"], "BULLETIN_NUMBER", year=year, month=mon)
    assessed = [g for g in report["grids"] if g["score"] is not None]
    lowest = min(assessed, key=lambda g: (g["score"], g["code"])) if assessed else None
    return {
        **head, "kind": "month", "month": month, "period": month_label(month),
        "title": f"关于{month_label(month)}份网格化管理考核情况的通报",
        "draft": report["state"]["state"] != "published",
        "previous_period": month_label(previous_month(month)) if report["previous_month"] else None,
        "previous_as_published": report["previous_as_published"],
        "summary": {**report["summary"],
                    "lowest": {k: lowest[k] for k in ("code", "name", "town", "score")} if lowest else None},
        "towns": report["towns"], "grids": report["grids"], "classes": _by_class(report["grids"]),
        # the district's rate over the items due in the month ("—" when none was due, never a
        # rate it does not know) and the grids that lost points to rectification
        "rectification": assessment.district_rectification(report["grids"]),
        "worst": assessment.worst_findings(store, report),
        "standing_remarks": ["网格得分为本月抽查道路得分的平均分，每条道路以100分为基数按考核细则扣分，扣完为止。",
                             "本月未抽到道路的网格不考核、不排名；镇办得分为其所辖已考核网格得分的平均分。",
                             "得分相同的名次并列。"],
        "report": report,
    }


def year_bulletin(store: Store, year, number: str | None = None, remarks=None, issued: date | None = None,
                  top: int = 10) -> dict:
    """The year-end bulletin (seed 002 第二篇 五.(三)): the town and grid year rankings over the
    published months, the top grids commended (通报表彰) and the lowest criticised (通报批评)."""
    year = parse_year(year)
    report = assessment.year_report(store, year, published_only=True)
    head = _head(store, number, remarks, issued)
    head["number"] = number or _number(store.config["BULLETIN_YEAR_NUMBER"], "BULLETIN_YEAR_NUMBER", year=year)
    return {
        **head, "kind": "year", "year": year, "period": f"{year}年度",
        "title": f"关于{year}年度网格化管理考核情况的通报",
        "months": [month_label(m) for m in report["months"]], "draft": False,
        "towns": report["towns"], "grids": report["grids"], "classes": _by_class(report["grids"]),
        "commended": report["commended"], "criticised": report["criticised"], "top": top,
        "standing_remarks": ["年度得分为各网格已考核月份得分的平均分，仅计已发布的月份。",
                             f"年终综合排名前{top}名的网格给予通报表彰，排名末位的网格给予通报批评。"],
        "report": report,
    }
