"""The web edition: the report as one self-contained, responsive HTML file. Figures are inlined
as SVG (their ids prefixed per figure, so several can share a page), the data of the edition are
links with data: URLs, and nothing is fetched from anywhere.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import markupsafe

_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)       # XML declaration, DOCTYPE, comments
_ID = re.compile(r'\bid="([^"]+)"')
# an id, or a reference to one: url(#id) or (xlink:)href="#id"; group 2 is the id
_ID_OR_REF = re.compile(r'(\bid="|url\(#|\bhref="#)([^")]+)(?=[")])')


def inline_svg(path, prefix: str) -> markupsafe.Markup:
    """An SVG file made fit to sit inside HTML: prologue dropped, every id and every reference
    to one (url(#id), href="#id") prefixed with ``prefix``. The SVGs are written by
    livingmeta.report.figures (matplotlib escapes the text it draws), never taken from a record."""
    text = _PROLOGUE.sub("", Path(path).read_text(encoding="utf-8"), count=1)
    ids = set(_ID.findall(text))
    # One pass over the text (a replace per id was quadratic: 6 s for a 480-trial forest plot).
    text = _ID_OR_REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}" if m[2] in ids else m[0], text)
    text = re.sub(r"<svg\b", '<svg aria-hidden="true" focusable="false"', text, count=1)
    return markupsafe.Markup(text)


def inline_figures(figures: dict, out_dir) -> dict:
    """Every figure the report shows (path relative to ``out_dir``) -> its inline SVG."""
    paths = [*figures.get("forest_pages", []), *(v for k, v in figures.items() if k != "forest_pages")]
    return {p: inline_svg(Path(out_dir) / p, f"fig{i}") for i, p in enumerate(paths, start=1) if p}


def data_downloads(files) -> list[dict]:
    """``files``: (path, name, media type, description) -> links carrying the file as a data: URL."""
    return [{"name": name, "description": desc,
             "href": f"data:{media};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"}
            for path, name, media, desc in files]
