"""The PDF: WeasyPrint renders the report's HTML to a tagged, archival PDF/A-3a (structure tree in
reading order, headings, tables with header cells, figures with their alt text, document
language and title) with the shipped fonts and the data attached. Trial text is untrusted, so the renderer gets a URL fetcher that serves
only files of the build and of templates/ (never other files, never the network).

Kept apart from livingmeta.report.context (which builds the HTML) so the report_pdf rule imports only
what rendering needs.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from livingmeta.errors import FigureError
from livingmeta.paths import TEMPLATE_DIR

# The files of an edition attached to the PDF and offered by the web edition, in this order:
# (name, media type, description). The report_html and report_pdf rules pass their paths.
ATTACHMENTS = (("trial_data.csv", "text/csv", "Per-arm trial data used by this edition (tidy CSV)"),
               ("pooled_results.json", "application/json", "Fitted meta-analysis results of this edition (JSON)"),
               ("per_trial_results.csv", "text/csv",
                "Each trial's effect, confidence interval, weight and source in the primary analysis (tidy CSV)"))
# An imported RevMan review's also carry every comparison with RevMan's stored totals.
REVMAN_ATTACHMENT = ("revman_reproduction.csv", "text/csv",
                     "Each RevMan total and study result beside livingmeta's recomputation (tidy CSV)")


def attachments_of(context: dict) -> tuple:
    """The attachments of this report: ATTACHMENTS, and REVMAN_ATTACHMENT for an imported RevMan review."""
    return ATTACHMENTS + ((REVMAN_ATTACHMENT,) if context.get("revman_reproduction") else ())


def safe_url_fetcher(allowed_roots):
    """A WeasyPrint URL fetcher that serves only local files under ``allowed_roots``; any other
    URL (network, ``data:``, files outside the build) is refused and recorded in ``.refused``."""
    from weasyprint.urls import URLFetcher

    roots = [Path(r).resolve() for r in allowed_roots]

    class _ProjectFilesOnly(URLFetcher):
        def __init__(self):
            super().__init__(allowed_protocols={"file"}, allow_redirects=False)
            self.refused = []

        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            if parsed.scheme == "file":
                path = Path(unquote(parsed.path)).resolve()
                if any(path == r or r in path.parents for r in roots) and path.is_file():
                    return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError(f"livingmeta refuses to fetch {url!r}: only files of this build are embedded")

    return _ProjectFilesOnly()


def use_shipped_fonts() -> None:
    """Let fontconfig (and so WeasyPrint's SVG text) find the fonts in templates/fonts before
    any system font, so figures are set in the shipped fonts on every machine. Must run before
    WeasyPrint first loads Pango; the report_pdf rule runs in a fresh process."""
    import os
    import tempfile
    if os.environ.get("LIVINGMETA_FONTCONFIG"):
        return
    conf = Path(tempfile.gettempdir()) / f"livingmeta-fonts-{os.getuid()}.conf"
    text = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            f'  <dir>{TEMPLATE_DIR / "fonts"}</dir>\n'
            f'  <include ignore_missing="yes">{os.environ.get("FONTCONFIG_FILE", "/etc/fonts/fonts.conf")}</include>\n'
            '</fontconfig>\n')
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    os.environ["FONTCONFIG_FILE"] = str(conf)
    os.environ["LIVINGMETA_FONTCONFIG"] = "1"


def warm_up() -> None:
    """Load WeasyPrint after pointing fontconfig at the shipped fonts: the workflow's warm
    process (livingmeta.pipeline.warm) calls this once, so report_pdf starts with it loaded."""
    use_shipped_fonts()
    import weasyprint  # noqa: F401


def render_pdf(html_path: Path, pdf_path: Path, *, allowed_roots=None, attachments=(), edition_date=None,
               pdf_variant: str = "pdf/a-3a") -> None:
    """Render the HTML file to a tagged archival PDF (PDF/A-3a by default) with the given files
    attached. Attachment dates are the edition date, so the same inputs give the same bytes. A
    resource the renderer refuses (a ``data:`` URL, a file outside the build, the network) would
    print as a blank figure: FigureError names the figure and the resource, and no PDF is written."""
    from datetime import datetime, timezone

    use_shipped_fonts()
    from weasyprint import HTML, Attachment

    from livingmeta.files import atomic_write_bytes
    html_path = Path(html_path).resolve()
    fetcher = safe_url_fetcher(allowed_roots or [html_path.parent, TEMPLATE_DIR])
    stamp = (datetime.fromisoformat(edition_date).replace(tzinfo=timezone.utc) if edition_date
             else datetime(2000, 1, 1, tzinfo=timezone.utc))
    files = [Attachment(string=Path(path).read_bytes(), name=name, description=desc, created=stamp, modified=stamp,
                        relationship="Data") for path, name, desc in attachments]
    pdf = HTML(filename=str(html_path), url_fetcher=fetcher).write_pdf(
        attachments=files, pdf_variant=pdf_variant, pdf_tags=True, pdf_identifier=None, uncompressed_pdf=False)
    if fetcher.refused:
        raise FigureError("; ".join(f"{_referrer(url, html_path)}: the PDF renderer refused {_short(url)}, which it "
                                    "needs, and would print it blank (only files of this build are embedded: a figure "
                                    "draws as vector or links an image file of the build)"
                                    for url in dict.fromkeys(fetcher.refused)) + f"; {pdf_path} not written")
    atomic_write_bytes(pdf_path, pdf)


_LINK = re.compile(r"""(?:src|href)\s*=\s*(["'])(.*?)\1|url\(\s*["']?([^"')]*)""", re.DOTALL)


def _links(path: Path) -> set[str]:
    """Every URL a file of the build links (attributes src/href/xlink:href and CSS url()),
    resolved against the file, whitespace removed (the renderer folds a data: URL's line breaks)."""
    base = path.as_uri()
    text = path.read_text(encoding="utf-8", errors="replace")
    return {re.sub(r"\s+", "", urljoin(base, html.unescape(m.group(2) if m.group(2) is not None else m.group(3))))
            for m in _LINK.finditer(text)}


def _referrer(url: str, html_path: Path) -> str:
    """The figure (an image of the report, named as the report links it) whose content links
    ``url``; the report itself when no figure does."""
    wanted = re.sub(r"\s+", "", url)
    for src in sorted(_links(html_path)):
        if not src.startswith("file:"):
            continue
        figure = Path(unquote(urlparse(src).path))
        if figure.suffix.lower() == ".svg" and figure.is_file() and wanted in _links(figure):
            return f"figure {figure.relative_to(html_path.parent) if html_path.parent in figure.parents else figure}"
    return f"{html_path.name}"


def _short(url: str) -> str:
    url = re.sub(r"\s+", "", url)
    return repr(url if len(url) <= 80 else f"{url[:60]}... ({len(url):,} characters)")
