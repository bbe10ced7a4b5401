"""Trial records are untrusted text: the PDF renderer fetches nothing but the build's own files,
and a resource it refuses stops the build, naming the figure, instead of printing it blank."""

from pathlib import Path

import pytest

from livingmeta.errors import FigureError
from livingmeta.report.pdf import render_pdf


def test_the_renderer_refuses_local_files_outside_the_build_and_the_network(tmp_path):
    html = tmp_path / "report.html"
    html.write_text('<html><body><p>ok</p><img src="file:///etc/passwd"><img src="http://example.com/x.png">'
                    '<img src="../outside.svg"><link rel="stylesheet" href="https://example.com/evil.css"></body></html>')
    (tmp_path.parent / "outside.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    with pytest.raises(FigureError) as err:
        render_pdf(html, tmp_path / "report.pdf", attachments=())
    message = str(err.value)
    assert "'file:///etc/passwd'" in message and "'http://example.com/x.png'" in message
    assert "'https://example.com/evil.css'" in message and "/outside.svg'" in message
    assert not (tmp_path / "report.pdf").exists()


def test_a_figure_whose_image_the_renderer_refuses_fails_naming_the_figure(tmp_path):
    """The 480-study report's compressed risk-of-bias grid was a raster image inside its SVG, a
    data: URL the renderer refuses: the PDF printed it blank and the build succeeded."""
    figures = tmp_path / "figures" / "risk_of_bias"
    figures.mkdir(parents=True)
    payload = "iVBORw0KGgo" + "A" * 5000
    (figures / "traffic_light_rob2_1.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' width='10' height='10'>"
        f"<image width='10' height='10' xlink:href='data:image/png;base64,\n{payload}'/></svg>")
    (figures / "summary_rob2.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>")
    html = tmp_path / "report.html"
    html.write_text('<html><body><img src="figures/risk_of_bias/summary_rob2.svg">'
                    '<img src="figures/risk_of_bias/traffic_light_rob2_1.svg"></body></html>')
    with pytest.raises(FigureError) as err:
        render_pdf(html, tmp_path / "report.pdf")
    message = str(err.value)
    assert message.startswith("figure figures/risk_of_bias/traffic_light_rob2_1.svg: the PDF renderer refused "
                              "'data:image/png;base64,iVBORw0KGgo")
    assert "5,033 characters" in message and len(message) < 600  # not kB of base64
    assert not (tmp_path / "report.pdf").exists()
