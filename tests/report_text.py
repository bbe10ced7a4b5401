"""The report of any review folder rendered in process (the functions the pipeline's rules call,
without Snakemake or figures), and the rules its reader text must keep (issue 22 item 4).

:func:`render_review` gives the print HTML (what WeasyPrint lays out) or the web edition's HTML;
:func:`reader_text_problems` lists every place where the visible text speaks to a machine
rather than a reader: file or key names, snake_case identifiers, "(s)" plurals, Python literals,
placeholders, empty headings and sentences printed twice word for word.
"""

from __future__ import annotations

import collections
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import yaml

from livingmeta.pipeline import analysis, revman_reproduction, tables
from livingmeta.pipeline.appraisal import risk_of_bias_review
from livingmeta.pipeline.prisma import prisma_summary
from livingmeta.pipeline.records import load_review
from livingmeta.pipeline.settled import bayes_analysis, sequential_analysis
from livingmeta.report.context import ATTACHMENTS, build_context, render_html
from livingmeta.report.pdf import REVMAN_ATTACHMENT
from livingmeta.report.grade import summary_of_findings
from livingmeta.stats.dependent import dependent_rho, one_effect_per_trial
from livingmeta.surveillance.flow import combined_flow

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def report_context(review_dir, config: dict | None = None, *, previous: bool = False) -> dict:
    """The report context of the review in ``review_dir``, every stage computed in process.
    ``previous``: as a second edition, whose previous edition had the same results."""
    config = config or CONFIG
    review = load_review(review_dir)
    review_def = review.definition
    arms, trials = tables.arm_table(review), tables.trial_table(review)
    level = config["pooling"]["level"]
    every = analysis.effect_size_table(arms, review_def, config["effect_size"], level=level)
    effects = one_effect_per_trial(every, rho=dependent_rho(review_def), level=level)
    pooled = analysis.pool_review(effects, review_def, config["pooling"], all_effects=every)
    mods = analysis.moderator_analyses(effects, trials, review_def, config["pooling"], config["moderators"])
    sse = analysis.small_study_analysis(effects, review_def, config["pooling"], config["small_study_effects"])
    rob = risk_of_bias_review(review_def, review.trials, effects, pooled, config["pooling"], config.get("appraisal", {}),
                              config["moderators"])
    appraisal = {"rob": rob, "sof": summary_of_findings(review_def, pooled, effects, rob, config),
                 "prisma": prisma_summary(review_def, Path(review_dir) / "review.yaml",
                                          combined_flow(Path(review_dir), review_def)[0])}
    settled = {"bayes": bayes_analysis(effects, review_def, config.get("bayes", {})),
               "sequential": sequential_analysis(effects, review_def, config.get("sequential", {}), config["pooling"]),
               "figure": "sequential.svg"}
    changes = {"first_edition": True}
    if previous:
        settled |= {"previous_bayes": settled["bayes"], "previous_sequential": settled["sequential"],
                    "previous_label": "2025-01-01"}
        changes = {"previous_edition": "2025-01-01-00000000", "added": [], "removed": [], "corrected": []}
    figures = {"forest_pages": ["forest.svg"], "funnel": "funnel.svg", "cumulative": "cumulative.svg"}
    figures |= {f"moderator:{a['name']}": f"{a['name']}.svg" for a in mods["analyses"] if "not_analysed_reason" not in a}
    figures |= {f"prisma:{e['index'] + 1}": f"prisma_{e['index'] + 1}.svg" for e in appraisal["prisma"]["editions"]}
    primary_rob = next((a for a in rob.get("analyses", []) if a["outcome"] == review_def["primary_outcome"]), None)
    if primary_rob and primary_rob.get("tools"):
        figures |= {"rob:summary_rob1": "rob_summary.svg", "rob:forest_rob_1": "forest_rob.svg"}
        if "levels" in primary_rob["moderator"]:
            figures["rob:subgroups"] = "rob_subgroups.svg"
    external = None
    ext = review_def.get("external_evidence")
    if ext:
        external = yaml.safe_load((Path(review_dir) / ext["file"]).read_text())[ext["key"]]
    edition = {"id": "2025-01-01-0a1b2c3d", "date": "2025-01-01", "fingerprint": {"data": "d", "config": "c", "code": "x"}}
    ctx = build_context(review_def=review_def, trials=trials, effects=effects, pooled=pooled, moderators=mods,
                        small_study=sse, config=config, external=external, edition=edition,
                        changes=changes, figures=figures, appraisal=appraisal, settled=settled)
    ctx["revman_reproduction"] = revman_reproduction.section_for_review_dir(review_dir, review_def)
    return ctx


class _AnySvg(dict):
    """Every figure's inline SVG, empty (the web edition's text without figures)."""

    def __missing__(self, key):
        return ""

    def __bool__(self):
        return True


def render_review(review_dir, config: dict | None = None, *, web: bool = False) -> str:
    """The report's HTML: for print, or the web edition (figures left empty)."""
    return render_context(report_context(review_dir, config), web=web)


def render_context(ctx: dict, *, web: bool = False) -> str:
    return render_html(ctx, web=web, inline_svgs=_AnySvg(), downloads=[])


# -- the reader-text rules --------------------------------------------------------------------

BLOCKS = {"p", "li", "dd", "dt", "td", "th", "figcaption", "h1", "h2", "h3", "h4", "caption", "title"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
PROSE = {"p", "dd", "figcaption", "h1", "h2", "h3", "h4"}  # rows and list items repeat by design
# Text that is the sources' own (citations, the risk-of-bias support text, the provenance notes)
# or a checksum table is not the report's wording; it is left out of the rules below.
QUOTED_CLASSES = {"refs", "provenance", "rob-support", "software", "hash"}
# The report's own attachments and downloads are files a reader opens, so their names are printed.
OWN_FILES = {name for name, _, _ in (*ATTACHMENTS, REVMAN_ATTACHMENT)}

RULES = [
    ("file or key name", re.compile(r"\breview\.ya?ml\b|\bconfig\.ya?ml\b|\bsearch_flow\b|\b\w+\.(?:json|yaml|csv|py)\b")),
    ("snake_case identifier", re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")),
    ("'(s)' plural", re.compile(r"\w\(s\)")),
    # True/False/None, except as an English word opening a sentence ("None of the trials ...")
    ("Python literal", re.compile(r"\b(?:True|False|None)\b(?!\s+[a-z])|(?<![.!?:]\s)(?<!^)\b(?:True|False|None)\b"
                                  r"|\b(?:nan|NaN|inf)\b")),
    ("placeholder", re.compile(r"\bnot stated\b|\bTODO\b|\bN/A\b|\{\{|\}\}", re.I)),
]


class _Blocks(HTMLParser):
    """Visible text per block element, in document order, with the block's tag; text inside a
    quoted element (QUOTED_CLASSES) is marked as quoted."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str, bool]] = []
        self._stack: list[tuple[str, bool]] = []
        self._text: list[list[str]] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "svg"):
            self._skip += 1
            return
        classes = set((dict(attrs).get("class") or "").split())
        quoted = bool(classes & QUOTED_CLASSES) or (self._stack[-1][1] if self._stack else False)
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            if tag == "img" and self._text:
                self._text[-1].append(" ")
            return
        self._stack.append((tag, quoted))
        if tag in BLOCKS:
            self._text.append([])

    def handle_endtag(self, tag):
        if tag in ("style", "script", "svg"):
            self._skip -= 1
            return
        while self._stack:
            open_tag, quoted = self._stack.pop()
            if open_tag in BLOCKS:
                text = " ".join("".join(self._text.pop()).split())
                self.blocks.append((open_tag, text, quoted))
                if self._text:  # a block inside a block: its text belongs to the outer one too
                    self._text[-1].append(" " + text + " ")
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self._skip and self._text:
            self._text[-1].append(data)


def text_blocks(html: str) -> list[tuple[str, str, bool]]:
    """(tag, visible text, quoted) of every block element, innermost first where they nest."""
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    return parser.blocks


def _headings_in_order(html: str) -> list[tuple[int | None, str]]:
    """Headings (level, text) and content (None, text) in document order, for the empty-heading rule."""
    out = []
    for m in re.finditer(r"<(h[1-4])\b[^>]*>(.*?)</\1>|<(p|li|dd|td|figure|img|table)\b[^>]*>", html, re.S):
        if m.group(1):
            out.append((HEADINGS[m.group(1)], re.sub(r"<[^>]+>", "", m.group(2)).strip()))
        else:
            out.append((None, m.group(3)))
    return out


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\u2018\u201c(])")


def reader_text_problems(html: str) -> list[str]:
    """Every breach of the reader-text rules in a rendered report, as 'rule: text'."""
    body = html.split("<body", 1)[-1]
    problems = []
    blocks = text_blocks(body)
    for tag, text, quoted in blocks:
        if quoted or not text:
            continue
        checked = text
        for name in OWN_FILES:
            checked = checked.replace(name, "")
        for rule, pattern in RULES:
            for m in pattern.finditer(checked):
                problems.append(f"{rule}: {m.group(0)!r} in <{tag}> {text[:160]!r}")
    # empty headings: a heading followed by another of the same or a higher level, or by nothing
    order = _headings_in_order(body)
    for i, (level, text) in enumerate(order):
        if level is None:
            continue
        nxt = next((x for x in order[i + 1:]), None)
        if nxt is None or (nxt[0] is not None and nxt[0] <= level):
            problems.append(f"empty heading: {text!r}")
    # a sentence of five words or more printed twice word for word in the prose
    seen = collections.Counter()
    for tag, text, quoted in blocks:
        if tag in PROSE and not quoted:
            for sentence in SENTENCE_END.split(text):
                if len(sentence.split()) >= 5:
                    seen[sentence] += 1
    problems += [f"sentence printed {n} times: {s[:160]!r}" for s, n in seen.items() if n > 1]
    return sorted(set(problems))


def visible_text(html: str) -> str:
    """The report's visible text (no markup, styles or figures), one block per line."""
    return "\n".join(text for tag, text, _ in text_blocks(html.split("<body", 1)[-1]) if text)


DEFAULT_REVIEW = ROOT / "data" / "reviews" / "exercise-depression"


def variant_review(tmp_path: Path, name: str, edit, source: Path = DEFAULT_REVIEW) -> Path:
    """A copy of a review folder (by default the default review) whose review.yaml and trial
    records ``edit(definition, records)`` changed in place (or replaced, by returning records)."""
    dst = tmp_path / name
    shutil.copytree(source, dst)
    definition = yaml.safe_load((source / "review.yaml").read_text())
    records = [yaml.safe_load(p.read_text()) for p in sorted((source / "trials").glob("*.yaml"))]
    records = edit(definition, records) or records
    shutil.rmtree(dst / "trials")
    (dst / "trials").mkdir()
    definition["id"] = name
    (dst / "review.yaml").write_text(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
    for r in records:
        (dst / "trials" / f"{r['id']}.yaml").write_text(yaml.safe_dump(r, sort_keys=False, allow_unicode=True))
    return dst
