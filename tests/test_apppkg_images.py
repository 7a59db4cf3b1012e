"""Local stand-ins for container images (no engine here)."""

from __future__ import annotations

import pytest

from eopde.apppkg.images import ImageNotFound, docker_pull, image_dir, publish_local, resolve

CWL = """cwlVersion: v1.2
$graph:
- class: Workflow
  id: app
  inputs: {}
  outputs: {}
  steps: {}
- class: CommandLineTool
  id: tool
  requirements:
    DockerRequirement: {dockerPull: "localhost/eopde/app:1.0"}
  baseCommand: echo
  inputs: {}
  outputs: {}
"""


def test_publish_and_resolve(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "app.cwl").write_text(CWL)
    (package / "app.ipynb").write_text("{}")
    root = tmp_path / "images"
    target = publish_local(package, root)
    assert target == image_dir("localhost/eopde/app:1.0", root) and target.parent == root
    assert (resolve("localhost/eopde/app:1.0", root) / "app.ipynb").exists()
    (package / "app.ipynb").write_text('{"v": 2}')
    publish_local(package, root)  # republishing replaces the stand-in
    assert (target / "app.ipynb").read_text() == '{"v": 2}'


def test_missing_stand_in_says_how_to_publish(tmp_path):
    with pytest.raises(ImageNotFound, match="publish_local"):
        resolve("localhost/eopde/none:1", tmp_path)


@pytest.mark.parametrize("image", ["..", "", "/"])
def test_image_refs_cannot_escape_the_folder(image, tmp_path):
    with pytest.raises(ValueError):
        image_dir(image, tmp_path)


def test_docker_pull_in_requirements_list_or_hints():
    assert docker_pull(CWL) == "localhost/eopde/app:1.0"
    listed = CWL.replace('DockerRequirement: {dockerPull: "localhost/eopde/app:1.0"}',
                         '- {class: DockerRequirement, dockerPull: "x/y:2"}')
    assert docker_pull(listed) == "x/y:2"
    assert docker_pull("cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\n") is None
