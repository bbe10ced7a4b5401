"""Text from trial records as it reaches figures and documents: plain text only.

Trial records are untrusted. A control character makes an SVG invalid XML (WeasyPrint then drops
the figure without a word), a very long label shrinks a forest plot to a dot, and matplotlib would
read ``$...$`` as math text (``$5 vs $10`` printed as "5vs10"; ``$\\foo$`` crashed the build).
So: labels are one line of at most ``LABEL_MAX_CHARS`` characters without control characters,
no text anywhere may carry characters XML cannot hold, matplotlib never parses math text (see
``rcParams['text.parse_math']`` in livingmeta.report.figures), and every SVG written is checked to be
well-formed XML, so a figure that failed to render fails the build instead of vanishing.
"""

from __future__ import annotations

import re
from pathlib import Path

from livingmeta.errors import FigureError

LABEL_MAX_CHARS = 120  # "Smith 2024a (low-intensity arm)" fits many times; a title does not
# Characters XML 1.0 cannot hold (C0 controls except tab, LF, CR), DEL and the C1 controls.
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# A label is one line: no control character at all.
LABEL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff]")


def control_character_problem(text: str, *, single_line: bool = False) -> str | None:
    """Why ``text`` cannot be printed as plain text in a figure or document, or None."""
    found = (LABEL_UNSAFE if single_line else XML_UNSAFE).search(text)
    if not found:
        return None
    where = "labels are one line of plain text" if single_line else "text must be printable"
    return (f"contains a control character (U+{ord(found.group()):04X}) at position {found.start() + 1}; "
            f"{where}: remove it")


def label_length_problem(text: str) -> str | None:
    if len(text) <= LABEL_MAX_CHARS:
        return None
    return (f"is {len(text):,} characters; a label may have at most {LABEL_MAX_CHARS} characters "
            "(e.g. 'Smith 2024'): put the full title in citation.title")


def check_svg(path) -> None:
    """Raise FigureError unless ``path`` is well-formed XML. Parsed with expat with every entity
    declaration refused: the SVG matplotlib writes declares none, and nothing here may reach an
    entity expander."""
    from xml.parsers import expat

    path = Path(path)
    parser = expat.ParserCreate()

    def refuse_entity(*_):
        raise FigureError(f"{path}: the figure declares XML entities; refusing it")

    parser.EntityDeclHandler = refuse_entity
    try:
        parser.Parse(path.read_bytes(), True)
    except expat.ExpatError as e:
        raise FigureError(f"{path}: the figure is not well-formed SVG ({expat.errors.messages[e.code]} at line "
                          f"{e.lineno}, column {e.offset}); the report would silently omit it. A text in the "
                          "figure probably carries a character XML cannot hold: run `livingmeta check`") from None
