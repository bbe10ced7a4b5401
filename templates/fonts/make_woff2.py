"""Make the web edition's WOFF2 fonts from the shipped TTFs beside this file: the same fonts,
glyphs and metrics, compressed (WOFF2 is about 45% of the TTF). Run it again only when one of
these TTFs changes, and commit the output:

    .venv/bin/python templates/fonts/make_woff2.py

fontTools and brotli come with WeasyPrint. The output is the same bytes on every run (the
fonts' own timestamps are kept), so a rerun shows no change in git.
"""

from pathlib import Path

from fontTools.ttLib import TTFont

FONT_DIR = Path(__file__).resolve().parent
# the fonts the figures are drawn with (livingmeta.report.figures: "Noto Sans", then "DejaVu Sans")
WEB_FONTS = ("NotoSans-Regular", "NotoSans-Bold", "DejaVuSans-symbols")

for stem in WEB_FONTS:
    font = TTFont(FONT_DIR / f"{stem}.ttf", recalcTimestamp=False)
    font.flavor = "woff2"
    font.save(FONT_DIR / f"{stem}.woff2", reorderTables=False)
    print(f"{stem}.woff2: {(FONT_DIR / f'{stem}.woff2').stat().st_size:,} bytes")
