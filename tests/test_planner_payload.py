"""The planner's payload and page assembly, on hand-made inputs and on the planning tests'
stand-in results with known parameters (fast; the end-to-end check against ``workbench plan``
in a browser is tests/test_planner_page.py)."""

from __future__ import annotations

import base64
import hashlib
import json

import numpy as np
import pytest
from test_planning import standin_attribution, standin_clv, standin_spend_table

from workbench.planning.payload import (
    PAYLOAD_DRAWS,
    _merge_patterns,
    current_spend,
    outcomes_from_payload,
    payload_from_plan,
    response_payload,
    thin,
)
from workbench.report.planner import _json_for_script, script_hash


def test_thinning_keeps_every_draw_up_to_the_limit_and_spreads_the_rest_evenly():
    np.testing.assert_array_equal(thin(150), np.arange(150))
    np.testing.assert_array_equal(thin(PAYLOAD_DRAWS), np.arange(PAYLOAD_DRAWS))
    kept = thin(1000)
    assert kept.size == PAYLOAD_DRAWS and kept[0] == 0 and kept[-1] == 999
    gaps = np.diff(kept)
    assert gaps.min() >= 4 and gaps.max() <= 6  # 999 / 199 = 5.02 apart


def test_patterns_with_the_same_codes_and_opening_channel_merge_with_their_journeys_summed():
    codes = np.array([[1, 0], [1, 0], [1, 0], [0, 5], [0, 0]])
    first = np.array([0, 0, 1, 1, -1])
    n = np.array([2.0, 3.0, 4.0, 0.0, 7.0])
    merged_codes, merged_first, merged_n = _merge_patterns(codes, first, n)
    rows = {
        (tuple(c), int(f)): float(k)
        for c, f, k in zip(merged_codes, merged_first, merged_n, strict=True)
    }
    # the empty pattern (0, 5) with no journeys is dropped; (1, 0) opened by 0 merges 2 + 3
    assert rows == {((1, 0), 0): 5.0, ((1, 0), 1): 4.0, ((0, 0), -1): 7.0}


def test_data_for_the_page_cannot_close_its_script_element_or_start_markup():
    data = {"channels": ["</script><img src=x onerror=alert(1)>", "a & b"]}
    text = _json_for_script(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data  # the escapes are JSON's own: the names arrive intact


def test_the_script_hash_is_the_csp_sha256_of_the_exact_script_text():
    script = 'console.log("é");\n'
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert script_hash(script) == f"'sha256-{digest}'"


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    from workbench.store import write_results

    folder = tmp_path_factory.mktemp("standins")
    write_results(standin_attribution(), folder / "attribution.nc")
    write_results(standin_clv(), folder / "clv.nc")
    standin_spend_table().to_csv(folder / "spend.csv", index=False)
    return folder


def test_a_thinned_payload_values_any_allocation_as_the_response_model_on_its_draws(standins):
    from workbench.pipelines import plan as pipeline

    f = standins
    inputs = pipeline.read_inputs(f / "attribution.nc", f / "clv.nc", f / "spend.csv")
    samples, _, _ = pipeline._draw_split(inputs.attr_ds, 1, 40, 20)
    model = pipeline._response_model(inputs, samples, 1)[0].journey
    params = pipeline.model_parameters(inputs.attr_ds)
    ds = response_payload(model, params, inputs.attr_ds["pattern_counts"], samples, most=15)
    payload = payload_from_plan(ds)
    kept = thin(model.n_samples, 15)
    np.testing.assert_array_equal(ds["planner_sample"].values, samples[kept])
    np.testing.assert_allclose(current_spend(payload), inputs.current)
    rng = np.random.default_rng(5)
    for mult in [np.ones(3), np.array([0.0, 1.0, 1.0]), *rng.uniform(0.1, 3.0, (4, 3))]:
        want = model.outcomes(mult)
        got = outcomes_from_payload(payload, mult * inputs.current)
        for key in ("conversions", "value"):
            np.testing.assert_allclose(got[key], want[key][kept], rtol=1e-10)


def test_plan_nc_carries_the_payload_and_it_replays_every_scenario(standins):
    from workbench.api import plan

    f = standins
    scenarios = [{"name": "shift", "move": [{"from": "display", "to": "search", "share": 0.7}]}]
    ds = plan(f / "attribution.nc", f / "clv.nc", f / "spend.csv", scenarios=scenarios)
    payload = payload_from_plan(ds)
    assert payload["baseline"].size == min(ds.sizes["draw"], PAYLOAD_DRAWS)
    for name in ds["scenario"].values:
        got = outcomes_from_payload(payload, ds["spend"].sel(scenario=name).values)
        np.testing.assert_allclose(got["value"], ds["value"].sel(scenario=name), rtol=1e-10)
