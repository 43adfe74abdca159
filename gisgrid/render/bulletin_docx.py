"""The bulletin (通报) as a Word document (python-docx): offices edit a bulletin in Word or WPS
before it goes out. A4, the issuing office in red over the document number and title, the
rankings as real tables (editable, not pictures), the photos of the largest deductions, remarks,
the signature and date, the 抄送 line, and page numbers in the footer. No queries: it lays out
reports/bulletin.py's dict."""

from __future__ import annotations

import io
from collections.abc import Callable

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

RED = RGBColor(0xB2, 0x18, 0x2B)
# fonts Chinese offices have; LibreOffice and WPS substitute their own CJK fonts where missing
BODY_FONT, HEADING_FONT = "仿宋", "黑体"


def _points(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _change(row: dict) -> str:
    change = row.get("rank_change")
    if change is None:
        return "—"
    return f"↑{change}" if change > 0 else (f"↓{-change}" if change < 0 else "=")


def _score_change(row: dict) -> str:
    return "—" if row.get("score_change") is None else f"{row['score_change']:+.2f}"


def _font(run, name: str, size: float | None = None, bold: bool = False, colour: RGBColor | None = None) -> None:
    run.font.name = name
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)  # Chinese text takes this one
    if size:
        run.font.size = Pt(size)
    run.font.bold = bold
    if colour is not None:
        run.font.color.rgb = colour


def _paragraph(doc, text: str = "", size: float = 14, bold: bool = False, align=None, colour=None,
               font: str = BODY_FONT, indent: bool = False):
    paragraph = doc.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(size * 2)
    _font(paragraph.add_run(text), font, size, bold, colour)
    return paragraph


def _heading(doc, text: str) -> None:
    _paragraph(doc, text, size=15, bold=True, font=HEADING_FONT)


def _table(doc, headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(text), HEADING_FONT, 10.5, bold=True)
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    # the header row repeats on every page a long ranking runs over
    header_props = table.rows[0]._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header_props.append(repeat)
    for values in rows:
        cells = table.add_row().cells
        for i, (cell, text) in enumerate(zip(cells, values)):
            cell.text = ""
            _font(cell.paragraphs[0].add_run("" if text is None else str(text)), BODY_FONT, 10.5)
            if i in numeric:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _page_number_footer(section) -> None:
    """— PAGE / NUMPAGES — in the footer, as fields Word, WPS and LibreOffice fill in."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def field(code: str) -> None:
        run = paragraph.add_run()
        for kind, text in (("begin", None), (None, code), ("separate", None), (None, "1"), ("end", None)):
            if kind is not None:
                element = OxmlElement("w:fldChar")
                element.set(qn("w:fldCharType"), kind)
            elif text == code:
                element = OxmlElement("w:instrText")
                element.set(qn("xml:space"), "preserve")
                element.text = f" {code} "
            else:
                element = OxmlElement("w:t")
                element.text = text
            run._r.append(element)

    _font(paragraph.add_run("— "), BODY_FONT, 10.5)
    field("PAGE")
    _font(paragraph.add_run(" / "), BODY_FONT, 10.5)
    field("NUMPAGES")
    _font(paragraph.add_run(" —"), BODY_FONT, 10.5)


def bulletin_docx(data: dict, photo: Callable[[dict], bytes | None] = lambda _p: None) -> bytes:
    """The bulletin of reports/bulletin.py as DOCX bytes; `photo` gives a photo's bytes (a
    thumbnail is enough for print), or None to leave it out."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)       # GB/T 9704 公文 margins
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    _page_number_footer(section)
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    normal.font.size = Pt(14)

    center = WD_ALIGN_PARAGRAPH.CENTER
    _paragraph(doc, data["office"], size=26, bold=True, align=center, colour=RED, font="宋体")
    _paragraph(doc, data["number"], size=14, align=center)
    _paragraph(doc, data["title"], size=20, bold=True, align=center, font="宋体")
    if data.get("draft"):
        _paragraph(doc, "（草稿，尚未发布）", size=12, align=center, colour=RED)

    if data["kind"] == "month":
        summary = data["summary"]
        lowest = summary.get("lowest")
        _paragraph(doc, f"{data['period']}，对全区{summary['grids']}个网格每格抽取两条道路进行了考核，"
                        f"其中{summary['assessed']}个网格参加考核，全区平均得分{_points(summary['mean'])}分"
                        + (f"，得分最低的是{lowest['name'] or lowest['code']}（{_points(lowest['score'])}分）"
                           if lowest else "") + "。现将考核情况通报如下：", indent=True)
    else:
        _paragraph(doc, f"现将{data['period']}网格化管理考核情况（{'、'.join(data['months']) or '—'}）通报如下：",
                   indent=True)

    month = data["kind"] == "month"
    _heading(doc, "一、镇办排名")
    _table(doc, ["名次", "镇办", "得分"] + (["考核网格数", "名次升降", "得分变化"] if month else []),
           [[t["rank"] or "—", t["town"], _points(t["score"])]
            + ([t["grids"], _change(t), _score_change(t)] if month else []) for t in data["towns"]],
           numeric={0, 2, 3, 5})

    number = 2
    if not month:
        _heading(doc, f"二、通报表彰（年终综合排名前{data['top']}名）")
        _paragraph(doc, "、".join(f"{g['name'] or g['code']}（{g.get('town') or ''}，{_points(g['score'])}分）"
                                 for g in data["commended"]) or "—", indent=True)
        _heading(doc, "三、通报批评（年终综合排名末位）")
        _paragraph(doc, "、".join(f"{g['name'] or g['code']}（{g.get('town') or ''}，{_points(g['score'])}分）"
                                 for g in data["criticised"]) or "—", indent=True)
        number = 4
    ordinal = "一二三四五六七八九十"
    _heading(doc, f"{ordinal[number - 1]}、网格综合排名")
    _table(doc, ["名次", "网格", "镇办", "等级", "得分"] + (["名次升降", "得分变化"] if month else []),
           [[g["rank"] or "—", g["name"] or g["code"], g.get("town") or "", g.get("class") or "",
             _points(g["score"]) if g["score"] is not None else "未考核"]
            + ([_change(g), _score_change(g)] if month else []) for g in data["grids"]], numeric={0, 4, 6})
    if data.get("previous_period"):
        against, frozen = data["previous_period"], data.get("previous_as_published")
        if frozen and frozen["state"] == "published":      # the month before as frozen with this one
            against = f"本月发布时已发布的{against}"
        elif frozen:
            against = f"本月发布时的{against}（当时尚为草稿）"
        _paragraph(doc, f"名次升降、得分变化与{against}相比。", size=10.5)
    number += 1
    _heading(doc, f"{ordinal[number - 1]}、分类排名")
    for group in data["classes"]:
        _paragraph(doc, group["label"], size=14, bold=True)
        _table(doc, ["名次", "网格", "镇办", "得分"],
               [[g["class_rank"], g["name"] or g["code"], g.get("town") or "", _points(g["score"])]
                for g in group["grids"]], numeric={0, 3})
    if month:
        number += 1
        _heading(doc, f"{ordinal[number - 1]}、整改情况")
        rect = data.get("rectification")
        _paragraph(doc, (f"应整改{rect['due']}项，按期整改{rect['on_time']}项，整改率{rect['rate_label']}。"
                         if rect else "整改率：—"), indent=True)
        if rect and rect["grids"]:
            _table(doc, ["网格", "镇办", "整改扣分"], [[g["name"] or g["code"], g.get("town") or "", f"{g['points']:g}"]
                                                 for g in rect["grids"]], numeric={2})
        number += 1
        _heading(doc, f"{ordinal[number - 1]}、扣分较多的问题")
        if not data["worst"]:
            _paragraph(doc, "无扣分。", indent=True)
        for finding in data["worst"]:
            points = "?" if finding["points"] is None else f"{finding['points']:g}"
            _paragraph(doc, f"{finding['grid_name'] or finding['grid']}，{finding['road']}：{finding['rule']} "
                            f"{finding.get('rule_zh') or ''}，扣{points}分（{finding['observed_at'][:16].replace('T', ' ')}）"
                            + (f"。{finding['note']}" if finding.get("note") else ""), size=12)
            for picture in finding["photos"][:1]:
                raw = photo(picture)
                if raw:
                    doc.add_picture(io.BytesIO(raw), width=Mm(70))
    number += 1
    _heading(doc, f"{ordinal[number - 1]}、备注")
    for n, remark in enumerate(data["standing_remarks"] + data["remarks"], start=1):
        _paragraph(doc, f"{n}. {remark}", size=12, indent=True)

    right = WD_ALIGN_PARAGRAPH.RIGHT
    _paragraph(doc, "")
    _paragraph(doc, data["office"], align=right)
    _paragraph(doc, data["issued_label"], align=right)
    _paragraph(doc, f"抄送：{data['cc']}", size=12)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
