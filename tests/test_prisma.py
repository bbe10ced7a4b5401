"""PRISMA 2020 counts: every box that can be checked adds up, a mismatch names review.yaml, the
entry, the field and both numbers; nulls stay "not reported"; updated-review form for later
editions; the diagram is vector text in the shipped font."""

import copy

import jsonschema
import pytest

from livingmeta.pipeline import prisma
from livingmeta.report import prisma_figure
from livingmeta.pipeline.records import load_schema

# the contract's example (Metapsy release 24.0.2): 35,518 + 142 - 10,351 = 25,309 screened;
# reasons add up to 3,875 of 4,439 reports assessed (reports and studies are counted separately)
FIRST = {"label": "Metapsy release 24.0.2", "date": None, "source": "metadata/search_flow.json (crafted copy)",
         "identified": {"databases": 35518, "registers": None, "other": 142}, "duplicates_removed": 10351,
         "records_screened": 25309, "records_excluded": None, "reports_sought": None, "reports_not_retrieved": None,
         "reports_assessed": 4439, "reports_excluded": {"Companion papers": 1036, "Other": 2839},
         "studies_included_new": None, "studies_included_total": 480, "reports_included_total": None}
UPDATE = {"label": "Update 2025 (synthetic)", "date": "2025-06-01", "source": "synthetic test entry",
          "identified": {"databases": 1200, "registers": 30}, "duplicates_removed": 230, "records_screened": 1000,
          "records_excluded": 900, "reports_sought": 100, "reports_not_retrieved": 4, "reports_assessed": 96,
          "reports_excluded": {"Wrong population": 60, "Not randomised": 21}, "studies_included_new": 12,
          "studies_included_total": 492, "reports_included_total": None}


def test_consistent_editions_pass():
    assert prisma.flow_problems([FIRST, UPDATE]) == []
    prisma.validate_flow([FIRST, UPDATE])


@pytest.mark.parametrize("field,value,found,expected", [
    ("records_screened", 25310, "25,310", "25,309"),
    ("duplicates_removed", 10350, "25,309", "25,310"),
])
def test_a_mismatch_names_file_entry_field_and_both_numbers(field, value, found, expected):
    bad = {**FIRST, field: value}
    with pytest.raises(prisma.FlowError) as err:
        prisma.validate_flow([bad], "data/reviews/x/review.yaml")
    msg = str(err.value)
    assert "data/reviews/x/review.yaml" in msg and "Metapsy release 24.0.2" in msg and "records_screened" in msg
    assert found in msg and expected in msg


@pytest.mark.parametrize("change,field", [
    (dict(reports_sought=101), "reports_sought"),                   # 1000 - 900 = 100
    (dict(reports_assessed=95), "reports_assessed"),                # 100 - 4 = 96
    (dict(studies_included_total=493), "studies_included_total"),  # 480 + 12 = 492
])
def test_update_edition_boxes_are_checked(change, field):
    problems = prisma.flow_problems([FIRST, {**UPDATE, **change}])
    assert problems and all("Update 2025 (synthetic)" in p for p in problems)
    assert any(p.split(": ")[2].startswith(field) for p in problems)


def test_a_part_larger_than_its_whole_is_an_error():
    bad = {**UPDATE, "reports_excluded": {"Wrong population": 90, "Not randomised": 21}}
    problems = prisma.flow_problems([FIRST, bad])
    assert any("reports excluded" in p and "111" in p and "96" in p for p in problems)


def test_nulls_skip_checks_and_derive_nothing():
    sparse = {"label": "sparse", "identified": {"databases": None}, "records_screened": 10, "reports_assessed": 5,
              "reports_excluded": {"a": None, "b": 2}, "studies_included_total": 3}
    assert prisma.flow_problems([sparse]) == []
    assert prisma.identified_total(sparse) is None
    assert prisma.excluded_total(sparse) is None                  # one reason not reported: no total
    boxes = prisma.flow_boxes([sparse], 0)
    assert "Databases (n = not reported)" in boxes["identified"]
    assert "Total (derived" not in boxes["reports_excluded"]
    assert "Records excluded\n(n = not reported)" == boxes["excluded"]


def test_updated_form_shows_previous_studies_and_new_ones():
    boxes = prisma.flow_boxes([FIRST, UPDATE], 1)
    assert "previous version" in boxes["previous"] and "480" in boxes["previous"]
    assert "New studies included in review\n(n = 12)" == boxes["new"]
    assert "Total studies included in review\n(n = 492)" in boxes["included"]
    assert "Total (derived: sum of the reasons) n = 81" in boxes["reports_excluded"]
    assert "previous" not in prisma.flow_boxes([FIRST, UPDATE], 0)


def test_no_counts_means_no_diagram_and_a_reason():
    out = prisma.prisma_summary({"id": "r"}, "review.yaml")
    assert out["editions"] == [] and "no search and screening counts" in out["not_drawn_reason"]


def test_summary_validates_before_drawing():
    with pytest.raises(prisma.FlowError):
        prisma.prisma_summary({"id": "r", "search_flow": [{**FIRST, "records_screened": 1}]}, "review.yaml")
    out = prisma.prisma_summary({"id": "r", "search_flow": [FIRST, UPDATE]}, "review.yaml")
    assert [e["form"] for e in out["editions"]] == ["new review", "updated review"]


def test_diagram_is_vector_text_in_the_shipped_font(tmp_path):
    from livingmeta.report.figures import save_figure
    for i in (0, 1):
        save_figure(prisma_figure.flow_diagram([FIRST, UPDATE], i), tmp_path / f"e{i}")
        svg = (tmp_path / f"e{i}.svg").read_text()
        assert "Records screened" in svg and "Noto Sans" in svg and "<image" not in svg
    assert "previous version" in (tmp_path / "e1.svg").read_text()


@pytest.mark.parametrize("change", [
    {"records_screened": -1}, {"records_screened": 2.5}, {"identified": {"websites": 3}}, {"records_screned": 3},
])
def test_review_schema_rejects_bad_counts(change):
    review = {"id": "r", "title": "t", "question": "q", "primary_outcome": "o", "arms": {"intervention": "a", "control": "b"},
              "moderators": [], "outcomes": [{"id": "o", "label": "o", "type": "continuous", "effect_measure": "SMD",
                                              "direction": "lower_is_better", "timepoints": [{"id": "t", "label": "t"}]}],
              "search_flow": [{**copy.deepcopy(FIRST), **change}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(review, load_schema("review"))
    review["search_flow"] = [FIRST]
    jsonschema.validate(review, load_schema("review"))


def test_check_gate_refuses_counts_that_do_not_add_up(review_copy):
    import yaml
    from livingmeta.pipeline.records import RecordError, load_review
    path = review_copy / "review.yaml"
    review = yaml.safe_load(path.read_text())
    review["search_flow"] = [{**FIRST, "records_screened": 25000}]
    path.write_text(yaml.safe_dump(review, sort_keys=False))
    with pytest.raises(RecordError) as err:
        load_review(review_copy)
    assert "review.yaml: search_flow: search_flow entry 'Metapsy release 24.0.2': records_screened is 25,000" in str(err.value)


def test_cumulative_releases_are_drawn_as_new_reviews_and_not_added_up():
    # two database releases whose counts are cumulative: 809 then 480 studies (another scope of comparisons)
    later = {**FIRST, "label": "release 2", "scope": "cumulative", "studies_included_new": None}
    first = {**FIRST, "label": "release 1", "studies_included_total": 809,
             "reports_excluded": {"Companion papers": 1036, "Other": 2500}}   # 903 reports of included studies
    assert prisma.flow_problems([first, later]) == []
    assert "previous" not in prisma.flow_boxes([first, later], 1)
    assert prisma.prisma_summary({"id": "r", "search_flow": [first, later]}, "x")["editions"][1]["form"] == "new review"
    # without the scope the same counts read as an update and do not add up (809 + 0 != 480)
    assert prisma.flow_problems([first, {**later, "scope": "update", "studies_included_new": 0}])


# F16 (issue 23): impossible counts passed `check` and were drawn.
METAPSY_LIKE = {"label": "release", "identified": {"databases": 30889, "registers": None, "other": 126},
                "duplicates_removed": None, "records_screened": 25309, "reports_assessed": 4439,
                "studies_included_total": 480}


def test_more_records_screened_than_identified_is_refused():
    problems = prisma.flow_problems([{**METAPSY_LIKE, "records_screened": 1_000_000}])
    assert any("records_screened (1,000,000)" in p and "31,015" in p for p in problems), problems
    assert prisma.flow_problems([METAPSY_LIKE]) == []


@pytest.mark.parametrize("value", [10**18, 1e18, 25309.0, True])
def test_a_count_must_be_a_plausible_whole_number(value):
    problems = prisma.flow_problems([{**METAPSY_LIKE, "records_screened": value}])
    assert any("records_screened" in p and ("at most 1,000,000,000" in p or "whole number" in p) for p in problems), problems
    with pytest.raises(prisma.FlowError):
        prisma.prisma_summary({"id": "r", "search_flow": [{**METAPSY_LIKE, "records_screened": value}]}, "review.yaml")


def test_more_studies_included_than_reports_of_included_studies_is_refused():
    # 4,439 reports assessed, 3,875 excluded: at most 564 reports (so studies) were included
    bad = {**FIRST, "studies_included_total": 600}
    assert any("studies_included_total (600)" in p and "564" in p for p in prisma.flow_problems([bad]))
    bad_new = {**UPDATE, "studies_included_new": 16, "studies_included_total": 496}   # 96 - 81 = 15 included reports
    assert any("studies_included_new (16)" in p for p in prisma.flow_problems([FIRST, bad_new]))


def _load_with_flow(review_dir, entries):
    """Load a copy of the default review (35 records) whose review.yaml holds ``entries``."""
    import yaml
    from livingmeta.pipeline.records import load_review
    path = review_dir / "review.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "search_flow": entries}, sort_keys=False))
    return load_review(review_dir)


def test_check_gate_refuses_fewer_studies_included_than_the_review_holds(review_copy):
    from livingmeta.pipeline.records import RecordError
    with pytest.raises(RecordError) as err:
        _load_with_flow(review_copy, [{**FIRST, "studies_included_total": 5}])
    msg = str(err.value)
    assert "studies_included_total is 5, but the review holds 35 trial records" in msg
    _load_with_flow(review_copy, [{**FIRST, "studies_included_total": 35}])


def test_an_updated_review_diagram_passes_the_stage_contract():
    """The updated-review form's boxes (previous version, new studies) are in prisma.json's schema."""
    from livingmeta.pipeline.contracts import contract_problems
    summary = prisma.prisma_summary({"id": "r", "search_flow": [FIRST, UPDATE]}, "review.yaml")
    assert contract_problems(summary, "prisma") == []
