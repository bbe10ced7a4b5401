"""Property-based tests (hypothesis): no input crashes the record loader or the effect-size
functions with anything but a validation error."""

import shutil
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livingmeta.stats import effects
from livingmeta.pipeline.records import RecordError, load_review

REVIEW = Path(__file__).resolve().parents[1] / "data" / "reviews" / "exercise-depression"
numbers = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.integers(-10**6, 10**6)


@settings(max_examples=300, deadline=None)
@given(m1=numbers, sd1=numbers, n1=numbers, m2=numbers, sd2=numbers, n2=numbers,
       variance=st.sampled_from(effects.SMD_VARIANCES))
def test_hedges_g_returns_finite_results_or_a_validation_error(m1, sd1, n1, m2, sd2, n2, variance):
    try:
        es = effects.hedges_g(m1, sd1, n1, m2, sd2, n2, variance=variance)
    except effects.EffectSizeError:
        return
    assert np.isfinite(es.yi) and es.vi > 0


@settings(max_examples=300, deadline=None)
@given(a=numbers, n1=numbers, c=numbers, n2=numbers, measure=st.sampled_from(effects.BINARY_MEASURES))
def test_binary_effects_return_finite_results_or_a_validation_error(a, n1, c, n2, measure):
    try:
        es = effects.binary_effect(a, n1, c, n2, measure=measure)
    except effects.EffectSizeError:
        return
    assert np.isfinite(es.yi) and es.vi > 0


@settings(max_examples=200, deadline=None)
@given(t=numbers, n1=numbers, n2=numbers, p=numbers)
def test_conversions_return_finite_results_or_a_validation_error(t, n1, n2, p):
    for call in (lambda: effects.smd_from_t(t, n1, n2), lambda: effects.smd_from_p(p, n1, n2, 1),
                 lambda: effects.smd_from_f(t, n1, n2, -1)):
        try:
            es = call()
        except effects.EffectSizeError:
            continue
        assert np.isfinite(es.yi) and es.vi > 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=json_values, mutate=st.sampled_from(["replace", "merge"]))
def test_the_record_loader_only_ever_raises_record_errors(tmp_path, record, mutate):
    work = tmp_path / "review"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(REVIEW, work)
    target = work / "trials" / "singh-1997.yaml"
    if mutate == "merge" and isinstance(record, dict):
        base = yaml.safe_load(target.read_text())
        base.update(record)
        record = base
    target.write_text(yaml.safe_dump(record, allow_unicode=True))
    try:
        load_review(work)
    except RecordError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_arbitrary_text_as_a_record_gives_a_record_error_or_loads(tmp_path, text):
    work = tmp_path / "review"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(REVIEW, work)
    (work / "trials" / "singh-1997.yaml").write_text(text)
    try:
        load_review(work)
    except RecordError:
        pass
