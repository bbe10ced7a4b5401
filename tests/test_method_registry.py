"""One registry of tau^2 methods (livingmeta.stats.estimators.METHODS): the config schema's method
enums, the command line's choices and the report's method names are the registry's."""

from pathlib import Path

import yaml

from livingmeta import cli
from livingmeta.stats import estimators, pooling
from livingmeta.report import context as report

ROOT = Path(__file__).resolve().parents[1]


def _schema_method_enums(node, found):
    if isinstance(node, dict):
        for key, val in node.items():
            if key == "method" and isinstance(val, dict) and "enum" in val:
                found.append(val["enum"])
            _schema_method_enums(val, found)
    elif isinstance(node, list):
        for val in node:
            _schema_method_enums(val, found)
    return found


def test_config_schema_method_enums_equal_the_registry():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    enums = _schema_method_enums(schema, [])
    assert len(enums) == 2  # pooling.method and pooling.sensitivity[].method
    for enum in enums:
        assert enum == list(estimators.METHODS)


def test_report_method_names_equal_the_registry_labels():
    for name, m in estimators.METHODS.items():
        assert report._method_name(name) == m.label


def test_rma_and_the_command_line_offer_the_registry_methods():
    assert pooling.TAU2_METHODS == tuple(estimators.METHODS)
    parser_choices = None
    import argparse
    orig = argparse.ArgumentParser.parse_args

    def capture(self, argv=None, namespace=None):
        nonlocal parser_choices
        sub = next(a for a in self._actions if isinstance(a, argparse._SubParsersAction))
        analyze = sub.choices["analyze"]
        parser_choices = next(a.choices for a in analyze._actions if a.dest == "method")
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture
    try:
        try:
            cli.main(["analyze", "x.csv"])
        except SystemExit:
            pass
    finally:
        argparse.ArgumentParser.parse_args = orig
    # the tau^2 estimators are the registry's; RevMan's pooling methods (MH, MH+DL, Peto) follow them
    assert list(parser_choices) == [*estimators.METHODS, *cli.REVMAN_METHODS]


def test_every_method_names_its_source_and_support():
    for m in estimators.METHODS.values():
        assert m.citation and m.label and callable(m.estimate)
    assert not estimators.METHODS["FE"].random_effects
    assert all(m.moderators and m.leave_one_out and m.permutations for m in estimators.METHODS.values())
