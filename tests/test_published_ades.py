"""The local ADES deploys the packages in published shapes (tests/data/published/) as
ZOO-Project-DRU would: `id: main` deploys (as the process `main`), the entry point is the first
Workflow unless `w=` names another, a package without a Workflow or that cwltool refuses is a
400 that names what is wrong, and `eopde run` reads the same entry point."""

from __future__ import annotations

import pytest

from published_packages import DEPLOYABLE, PUBLISHED

pytestmark = pytest.mark.platform


@pytest.fixture(scope="module")
def client(platform):
    from eopde.ades import Client

    token = platform.eopde("token", "alice").stdout.strip()
    return Client(f"{platform.url('ades')}/{{user}}/ogc-api", user="alice", token=token)


@pytest.mark.parametrize("name", sorted(DEPLOYABLE))
def test_published_shapes_deploy_with_the_entry_point(client, name):
    from eopde.apppkg.run import load_workflow

    expected = DEPLOYABLE[name]
    summary = client.deploy(PUBLISHED / name, replace_existing=True)
    try:
        assert summary.id == expected
        description = client.describe(expected)
        # the description's inputs are the entry Workflow's, in the same order eopde run sees
        assert list(description.inputs) == [i.name for i in load_workflow(PUBLISHED / name).inputs]
    finally:
        client.undeploy(expected)


def test_w_picks_another_workflow(client):
    summary = client.deploy(PUBLISHED / "two-workflows.cwl", workflow_id="preprocess",
                            replace_existing=True)
    try:
        assert summary.id == "preprocess"
        assert list(client.describe("preprocess").inputs) == ["scene"]
    finally:
        client.undeploy("preprocess")


@pytest.mark.parametrize("name, says", [
    ("single-tool.cwl", "no Workflow"),
    ("invalid-bad-source.cwl", "scenes"),
    ("invalid-bad-type.cwl", "integer"),
])
def test_undeployable_shapes_are_a_400_saying_why(client, name, says):
    from eopde.ades.errors import InvalidInput, ProcessesError

    with pytest.raises(ProcessesError) as err:
        client.deploy(PUBLISHED / name)
    assert err.value.status == 400 and isinstance(err.value, InvalidInput), err.value
    assert says in err.value.detail
