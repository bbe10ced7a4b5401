"""Trial records are untrusted text: the PDF renderer fetches nothing but the build's own files."""

from pathlib import Path

from livingmeta.report.pdf import render_pdf


def test_the_renderer_refuses_local_files_outside_the_build_and_the_network(tmp_path):
    html = tmp_path / "report.html"
    html.write_text('<html><body><p>ok</p><img src="file:///etc/passwd"><img src="http://example.com/x.png">'
                    '<img src="../outside.svg"><link rel="stylesheet" href="https://example.com/evil.css"></body></html>')
    (tmp_path.parent / "outside.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    refused = render_pdf(html, tmp_path / "report.pdf", attachments=())
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert any(u.startswith("file:///etc/passwd") for u in refused)
    assert "http://example.com/x.png" in refused
    assert "https://example.com/evil.css" in refused
    assert any(u.endswith("/outside.svg") for u in refused)
