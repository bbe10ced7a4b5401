"""The web edition inlines figures: every id of an SVG and every reference to one is prefixed,
so several figures share a page; nothing else changes."""

from livingmeta.report.web import inline_svg

SVG = ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg">'
       '<defs><clipPath id="a"><rect/></clipPath><path id="ab" d="M 0 0"/><g id="i"/></defs>'
       '<g clip-path="url(#a)"><use xlink:href="#ab" x="1"/><use href="#a"/><a href="#zz">x</a>'
       '<path style="fill: url(#zz)"/></g></svg>')


def test_ids_and_references_get_the_prefix_and_nothing_else_changes(tmp_path):
    path = tmp_path / "f.svg"
    path.write_text(SVG)
    out = str(inline_svg(path, "fig2"))
    assert out == ('<svg aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">'
                   '<defs><clipPath id="fig2-a"><rect/></clipPath><path id="fig2-ab" d="M 0 0"/><g id="fig2-i"/></defs>'
                   '<g clip-path="url(#fig2-a)"><use xlink:href="#fig2-ab" x="1"/><use href="#fig2-a"/><a href="#zz">x</a>'
                   '<path style="fill: url(#zz)"/></g></svg>')
