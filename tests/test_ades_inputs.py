"""Execute-request checks of the local ADES (services/ades/inputs.py): a single value given for an
array input is taken as a one-item array, as ZOO-Project-DRU takes it (maxOccurs 999 there), and
the fetch guard (fetchpolicy.check_inputs) still sees every item. No platform: the checks run on
the description the ADES makes of a package written here in the shape EOEPCA's examples have."""

from __future__ import annotations

import pytest

from eopde.apppkg.describe import describe
from eopde.services.ades.errors import OGCError
from eopde.services.ades.fetchpolicy import check_inputs, policy_for
from eopde.services.ades.inputs import check_execute

CWL = """
cwlVersion: v1.0
$namespaces: {s: https://schema.org/}
s:softwareVersion: 0.3.1
$graph:
  - class: Workflow
    id: burn-scar
    label: Burn scar
    doc: dNBR burn scar of pre/post fire scenes
    inputs:
      scenes: {type: "Directory[]", doc: pre and post fire Sentinel-2 scenes}
      bands: {type: "string[]", default: [B8A, B12]}
      thresholds: {type: "float[]?", doc: dNBR class limits}
      tile: {type: string}
    outputs:
      - id: burned
        type: Directory
        outputSource: [dnbr/out]
    steps:
      dnbr:
        run: "#dnbr-tool"
        in: {scenes: scenes, bands: bands, thresholds: thresholds, tile: tile}
        out: [out]
  - class: CommandLineTool
    id: dnbr-tool
    baseCommand: dnbr
    hints:
      DockerRequirement: {dockerPull: "ghcr.io/example-org/dnbr:0.3.1"}
    inputs:
      scenes: {type: "Directory[]", inputBinding: {prefix: --scene}}
      bands: {type: "string[]", inputBinding: {prefix: --band}}
      thresholds: {type: "float[]?", inputBinding: {prefix: --limit}}
      tile: {type: string, inputBinding: {prefix: --tile}}
    outputs:
      out: {type: Directory, outputBinding: {glob: .}}
"""
SCENE = ("https://earth-search.example.org/v1/collections/sentinel-2-l2a/items/"
         "S2A_10TFK_20250801_0_L2A")


@pytest.fixture(scope="module")
def description() -> dict:
    return describe(CWL)


def _inputs(description: dict, **values) -> dict:
    return check_execute({"inputs": {"tile": "10TFK", "scenes": [SCENE], **values}},
                         description)[0]


def test_single_values_of_array_inputs_become_arrays(description):
    got = _inputs(description, scenes=SCENE, bands="B12", thresholds=0.27)
    assert got == {"tile": "10TFK", "scenes": [SCENE], "bands": ["B12"], "thresholds": [0.27]}


def test_qualified_single_values_become_arrays(description):
    got = _inputs(description, scenes={"href": SCENE}, bands={"value": "B8A"})
    assert got["scenes"] == [{"href": SCENE}]
    assert got["bands"] == ["B8A"]


def test_arrays_and_scalars_are_left_as_given(description):
    body = {"tile": "10TFK", "scenes": [SCENE, SCENE + "b"], "bands": ["B8A", "B12"],
            "thresholds": None}
    assert check_execute({"inputs": body}, description)[0] == body


def test_a_single_value_of_the_wrong_type_is_still_refused(description):
    with pytest.raises(OGCError) as err:
        _inputs(description, thresholds="high")
    assert err.value.status == 400
    assert err.value.to_dict()["detail"].startswith(
        "input 'thresholds': expected an array, got a string")
    with pytest.raises(OGCError) as err:
        _inputs(description, tile=["10TFK"])  # one value only: not wrapped the other way round
    assert err.value.status == 400


@pytest.mark.parametrize("value", ["http://127.0.0.1:9000/items/x.json",
                                   {"href": "file:///etc/passwd"},
                                   "s3://user-mallory/items/x.json"])
def test_the_fetch_guard_sees_the_wrapped_item(description, value):
    inputs = _inputs(description, scenes=value)
    assert isinstance(inputs["scenes"], list) and len(inputs["scenes"]) == 1
    with pytest.raises(OGCError) as err:
        check_inputs(inputs, description, policy_for("alice", []))
    assert err.value.status == 400
    assert "input 'scenes'" in err.value.to_dict()["detail"]


def test_the_fetch_guard_lets_a_public_item_through(description):
    inputs = _inputs(description, scenes=SCENE)
    check_inputs(inputs, description, policy_for("alice", []))
