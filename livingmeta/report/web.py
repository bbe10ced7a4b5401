"""The web edition: the report as one self-contained, responsive HTML file. Figures are inlined
as SVG (their ids prefixed per figure, so several can share a page) and drawn in the fonts the
PDF uses, embedded once as WOFF2; the data of the edition are links with data: URLs; the contents
box lists every section heading; nothing is fetched from anywhere.
"""

from __future__ import annotations

import base64
import html as html_lib
import re
from pathlib import Path

import markupsafe

from livingmeta.paths import FONT_DIR

_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)       # XML declaration, DOCTYPE, comments
_ID = re.compile(r'\bid="([^"]+)"')
# an id, or a reference to one: url(#id) or (xlink:)href="#id"; group 2 is the id
_ID_OR_REF = re.compile(r'(\bid="|url\(#|\bhref="#)([^")]+)(?=[")])')
_H2 = re.compile(r"<h2\b([^>]*)>(.*?)</h2>", re.S)
_TAG = re.compile(r"<[^>]*>")
CONTENTS_LIST = '<ol class="toc-list"></ol>'  # the web template's empty contents list, filled here

# The fonts the figures are drawn in: livingmeta.report.figures asks matplotlib for "Noto Sans",
# then "DejaVu Sans" for the glyphs Noto Sans lacks, and every SVG text names those families. The
# web edition serves them under the same names, as WOFF2 made from the TTFs the PDF embeds
# (templates/fonts/make_woff2.py), so the browser measures each label as matplotlib laid it out.
# (file in templates/fonts, CSS family, weight, unicode-range: the characters the file holds)
WEB_FONTS = (
    ("NotoSans-Regular.woff2", "Noto Sans", 400, None),
    ("NotoSans-Bold.woff2", "Noto Sans", 700, None),
    ("DejaVuSans-symbols.woff2", "DejaVu Sans", 400, "U+2190, U+2192, U+2212, U+2264-2265"),
)


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


def web_font_faces(font_dir=FONT_DIR) -> markupsafe.Markup:
    """The @font-face rules of the web edition's fonts (WEB_FONTS), each file once, as data: URLs."""
    rules = []
    for name, family, weight, characters in WEB_FONTS:
        data = base64.b64encode((Path(font_dir) / name).read_bytes()).decode("ascii")
        only = f" unicode-range: {characters};" if characters else ""
        rules.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; font-style: normal;{only} '
                     f'src: url(data:font/woff2;base64,{data}) format("woff2"); }}')
    return markupsafe.Markup("\n".join(rules))


def with_contents(html: str) -> str:
    """The web edition with its contents box filled: a link to every h2 in <main>, in order,
    worded as the heading. A heading without an id gets one made from its words, so a section
    added to a template is listed without anyone listing it."""
    head, main_tag, main = html.partition("<main>")
    taken = set(_ID.findall(html))
    entries = []

    def listed(m: re.Match) -> str:
        attrs, words = m[1], _TAG.sub("", m[2]).strip()
        given = re.search(r'\bid="([^"]+)"', attrs)
        if given:
            anchor = given[1]
        else:
            anchor = base = "-".join(re.findall(r"[a-z0-9]+", html_lib.unescape(words).lower())) or "section"
            n = 1
            while anchor in taken:
                n += 1
                anchor = f"{base}-{n}"
            taken.add(anchor)
            attrs = f'{attrs} id="{anchor}"'
        entries.append(f'<li><a href="#{anchor}">{words}</a></li>')
        return f"<h2{attrs}>{m[2]}</h2>"

    main = _H2.sub(listed, main)
    if CONTENTS_LIST not in head:
        raise ValueError(f"the web edition's template has no contents list {CONTENTS_LIST!r} before <main>")
    return head.replace(CONTENTS_LIST, '<ol class="toc-list">' + "".join(entries) + "</ol>", 1) + main_tag + main
