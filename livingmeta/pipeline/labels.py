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
import unicodedata
from pathlib import Path

from livingmeta.errors import FigureError

LABEL_MAX_CHARS = 120  # "Smith 2024a (low-intensity arm)" fits many times; a title does not
# Characters XML 1.0 cannot hold (C0 controls except tab, LF, CR), DEL and the C1 controls.
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# A label is one line: no control character at all.
LABEL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff]")
# Invisible format characters (Unicode category Cf: the bidirectional overrides, embeddings and
# isolates, zero-width space, soft hyphen, word joiner, ...) make text display differently from
# what is stored: "Smith\u202e0202" prints as "Smith2020" reversed (Boucher & Anderson 2021,
# "Trojan Source"). They are refused like control characters. The zero-width non-joiner and
# joiner are kept: Persian and Indic spelling and emoji sequences need them, and they reorder nothing.
JOINERS = {"\u200c", "\u200d"}
_NON_ASCII = re.compile("[^\x00-\x7f]")


def unprintable_character(text: str, *, single_line: bool = False) -> tuple[int, str, str] | None:
    """The first character of ``text`` no report may print, as (index, character, kind), kind
    being "control character" or "invisible format character"; None if there is none."""
    found = (LABEL_UNSAFE if single_line else XML_UNSAFE).search(text)
    first = (found.start(), found.group(), "control character") if found else None
    if not text.isascii():  # the format characters are all outside ASCII; most text is not
        for m in _NON_ASCII.finditer(text, 0, first[0] if first else len(text)):
            if unicodedata.category(m.group()) == "Cf" and m.group() not in JOINERS:
                return m.start(), m.group(), "invisible format character"
    return first


def character_name(char: str) -> str:
    """U+202E RIGHT-TO-LEFT OVERRIDE: how a message names a character it cannot show."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def control_character_problem(text: str, *, single_line: bool = False) -> str | None:
    """Why ``text`` cannot be printed as plain text in a figure or document, or None. The one
    text check: records, review.yaml and every importer use it."""
    found = unprintable_character(text, single_line=single_line)
    if not found:
        return None
    index, char, kind = found
    where = "labels are one line of plain text" if single_line else "text must be printable"
    why = "; it makes the text display differently from what is stored" if kind != "control character" else ""
    return f"contains {'an' if kind[0] == 'i' else 'a'} {kind} ({character_name(char)}) at position {index + 1}{why}; {where}: remove it"


def label_length_problem(text: str) -> str | None:
    if len(text) <= LABEL_MAX_CHARS:
        return None
    return (f"is {len(text):,} characters; a label may have at most {LABEL_MAX_CHARS} characters "
            "(e.g. 'Smith 2024'): put the full title in citation.title")


def names_word(label: str, word: str) -> bool:
    """Whether ``label`` contains ``word`` as a whole word, in any case: an outcome label that names
    the intervention ('Aspirin for Preventing Death ...' with 'Aspirin') cannot be the Y of 'X
    reduces Y' (the report quotes it; the RevMan importers warn)."""
    return bool(word) and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", label, flags=re.IGNORECASE) is not None


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
