"""The web edition's parts that need no build: its fonts are the PDF's, named as the figures name
them, and its contents box lists every section. (The browser tests of the built edition are in
test_pipeline_end_to_end.py.)"""

import re

import pytest

from livingmeta.paths import FONT_DIR
from livingmeta.report.web import CONTENTS_LIST, WEB_FONTS, web_font_faces, with_contents

TTFont = pytest.importorskip("fontTools.ttLib").TTFont


@pytest.mark.parametrize("name, family, weight, characters", WEB_FONTS)
def test_each_web_font_is_the_shipped_ttf_with_the_family_and_weight_the_css_gives_it(name, family, weight,
                                                                                       characters):
    from fontTools.pens.recordingPen import RecordingPen
    web = TTFont(FONT_DIR / name)
    ttf = TTFont(FONT_DIR / name.replace(".woff2", ".ttf"))
    assert web.flavor == "woff2"
    assert sorted(web.keys()) == sorted(ttf.keys())
    # every table as shipped; head differs only in WOFF2's flag bit, glyf/loca may be re-encoded
    for tag in set(ttf.keys()) - {"GlyphOrder", "head", "glyf", "loca"}:
        assert web.reader[tag] == ttf.reader[tag], tag
    assert web["head"].unitsPerEm == ttf["head"].unitsPerEm
    web_glyphs, ttf_glyphs = web.getGlyphSet(), ttf.getGlyphSet()
    for glyph in ttf.getGlyphOrder():
        drawn = [RecordingPen(), RecordingPen()]
        web_glyphs[glyph].draw(drawn[0])
        ttf_glyphs[glyph].draw(drawn[1])
        assert drawn[0].value == drawn[1].value, glyph
    assert ttf["name"].getDebugName(1) == family and ttf["OS/2"].usWeightClass == weight
    if characters:  # the unicode-range names exactly the characters the file holds
        listed = set()
        for part in characters.split(", "):
            first, _, last = part.removeprefix("U+").partition("-")
            listed |= set(range(int(first, 16), int(last or first, 16) + 1))
        assert listed == set(ttf.getBestCmap())


def test_the_figures_name_only_fonts_the_web_edition_serves(tmp_path):
    """matplotlib writes each SVG text's font-family from livingmeta.report.figures' rcParams and
    falls back glyph by glyph along that list (the minus sign: DejaVu Sans); the browser does the
    same, so every family named, at every weight drawn, must be one the web edition embeds."""
    import matplotlib.pyplot as plt
    from livingmeta.report.figures import save_figure
    fig, ax = plt.subplots()
    ax.text(0.1, 0.5, "\u22120.45 [\u22120.68, \u22120.22] \u2264 \u2192")
    ax.text(0.1, 0.2, "Total (95% CI)", fontweight="bold")
    svg = save_figure(fig, tmp_path / "probe")[0]
    text = open(svg, encoding="utf-8").read()
    named = {f.strip(" '\"") for style in re.findall(r"font-family: ([^;\"]+)", text) for f in style.split(",")}
    weights = {int(w) for w in re.findall(r"font-weight: (\d+)", text)} | {400}
    served = {(family, weight) for _, family, weight, _ in WEB_FONTS}
    assert named and named <= {family for family, _ in served}
    assert {("Noto Sans", w) for w in weights} <= served


def test_the_web_font_faces_carry_each_file_once_as_woff2_data():
    css = str(web_font_faces())
    assert css.count("@font-face") == len(WEB_FONTS) == css.count("data:font/woff2;base64,")
    assert "url(\"" not in css and "http" not in css          # nothing fetched, no file path
    for name, family, weight, _ in WEB_FONTS:
        assert f'font-family: "{family}"; font-weight: {weight};' in css


PAGE = f"""<html><body><header><h1>Title</h1></header>
<nav class="toc" aria-label="Contents"><h2 class="toc-title">Contents</h2>{CONTENTS_LIST}</nav>
<main>
<section class="box"><h2 class="box-title" id="key-findings-title">Key findings</h2></section>
<h2 id="changes">What changed in this edition</h2>
<h2>How settled is the evidence?</h2>
<h2 class="x">Fish &amp; <em>chips</em></h2>
<h3 id="not-listed">A subsection</h3>
<h2>How settled is the evidence?</h2>
</main></body></html>"""


def test_the_contents_list_every_section_heading_of_the_page_in_order():
    html = with_contents(PAGE)
    toc = html[html.index("<nav"):html.index("</nav>")]
    assert re.findall(r'<a href="#([^"]+)">(.*?)</a>', toc) == [
        ("key-findings-title", "Key findings"), ("changes", "What changed in this edition"),
        ("how-settled-is-the-evidence", "How settled is the evidence?"), ("fish-chips", "Fish &amp; chips"),
        ("how-settled-is-the-evidence-2", "How settled is the evidence?")]
    assert '<h2 id="how-settled-is-the-evidence">How settled' in html
    assert '<h2 class="x" id="fish-chips">Fish &amp; <em>chips</em></h2>' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_a_template_without_the_contents_list_is_an_error_not_a_silent_empty_box():
    with pytest.raises(ValueError, match="contents list"):
        with_contents(PAGE.replace(CONTENTS_LIST, "<ol></ol>"))
