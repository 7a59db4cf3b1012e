"""`eopde validate` agrees with the ecosystem on packages in the shapes EOEPCA / eoap / Terradue
publish (tests/data/published/, written here): its verdict is cwltool's, `id: main` and partial
ResourceRequirements are not errors, rules that are not OGC 20-089 are advice naming their
source, `--target eoepca` adds what EOEPCA's ADES needs, and `--strict` is a gate that packages
written by `eopde package` pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eopde.apppkg.validate import validate

PUBLISHED = Path(__file__).resolve().parent / "data" / "published"
REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _cwltool_valid(path: Path) -> bool:
    """`cwltool --validate FILE`, offline (the files name nothing outside themselves)."""
    done = subprocess.run([str(BIN / "cwltool"), "--validate", "--skip-schemas", str(path)],
                          capture_output=True, text=True, timeout=120)
    return done.returncode == 0


@pytest.mark.parametrize("path", sorted(PUBLISHED.glob("*.cwl")), ids=lambda p: p.name)
def test_verdict_agrees_with_cwltool(path):
    ours = validate(path)
    theirs = _cwltool_valid(path)
    if path.name == "single-tool.cwl":
        # valid CWL, but not an application package: OGC 20-089 req-7 wants a Workflow, and
        # ZOO-Project-DRU refuses a document without one ("No workflow found")
        assert theirs is True
        assert {f.rule for f in ours.errors} == {"OGC-20-089/req-7"}
        return
    assert ours.valid is theirs, [f.to_dict() for f in ours.errors]
    assert ("cwl/invalid" in ours.rules()) is (not theirs)
    assert path.name.startswith("invalid-") is (not theirs)


def _by_rule(report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f.rule, []).append(f.severity)
    return out


def test_main_id_is_advice_and_the_package_is_valid():
    report = validate(PUBLISHED / "main-id.cwl", strict=True)
    assert report.valid and report.entry == "main"
    [f] = [f for f in report.findings if f.rule == "eopde/main-id"]
    assert f.severity == "advice" and "cwl-wrapper" in f.source
    assert "clashes with wrappers that name their own workflow `main`" in f.message


def test_resource_requirement_with_only_max_or_only_min_is_not_a_finding():
    for name in ("scatter-string-items.cwl", "directory-array.cwl",
                 "local-image-no-version.cwl", "stage-in-directory.cwl"):
        assert "eopde/resources" not in validate(PUBLISHED / name).rules(), name
    # none at all: advice, with whose advice it is
    [f] = [f for f in validate(PUBLISHED / "main-id.cwl").findings
           if f.rule == "eopde/resources"]
    assert f.severity == "advice" and f.source.startswith("eoap-validator")


def test_advice_never_cites_the_best_practice_and_names_a_source():
    for path in sorted(PUBLISHED.glob("*.cwl")):
        for f in validate(path).findings:
            if f.severity == "advice":
                assert f.source and not f.rule.startswith("OGC-20-089"), f
            if f.rule.startswith("OGC-20-089"):
                assert f.severity in ("error", "warning"), f


def test_every_warning_says_how_to_fix_it():
    """What --strict promotes to an error must say how to fix it."""
    for path in sorted(PUBLISHED.glob("*.cwl")):
        for target in ("eopde", "eoepca"):
            for f in validate(path, target=target).warnings:
                assert len(f.fix) > 15, f


def test_hinted_docker_is_a_warning_that_strict_promotes():
    report = validate(PUBLISHED / "scatter-string-items.cwl")
    assert report.valid and _by_rule(report)["OGC-20-089/req-8"] == ["warning"]
    strict = validate(PUBLISHED / "scatter-string-items.cwl", strict=True)
    assert not strict.valid
    assert [f.rule for f in strict.errors] == ["OGC-20-089/req-8"]
    assert strict.errors[0].fix == "move DockerRequirement from hints to requirements"


def test_target_eoepca_local_image_and_missing_version():
    path = PUBLISHED / "local-image-no-version.cwl"
    local = _by_rule(validate(path))
    assert local["OGC-20-089/req-11"] == ["warning"] and local["eopde/image-registry"] == ["advice"]
    report = validate(path, target="eoepca")
    remote = _by_rule(report)
    assert remote["OGC-20-089/req-11"] == ["error"] and remote["eopde/image-registry"] == [
        "warning"]
    assert not report.valid
    [img] = [f for f in report.findings if f.rule == "eopde/image-registry"]
    assert "localhost/my-notebook:dev" in img.message and "--image" in img.fix
    # a package with a version and a pullable image is fine for EOEPCA
    assert validate(PUBLISHED / "stage-in-directory.cwl", target="eoepca").valid
    with pytest.raises(ValueError):
        validate(path, target="nowhere")


def test_cli_target_and_help():
    helptext = subprocess.run([str(BIN / "eopde"), "validate", "--help"], capture_output=True,
                              text=True, timeout=60).stdout
    assert "--target {eopde,eoepca}" in helptext and "advice" in helptext
    done = subprocess.run([str(BIN / "eopde"), "validate", "--json", "--target", "eoepca",
                           str(PUBLISHED / "local-image-no-version.cwl")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    found = {(f["rule"], f["severity"]) for f in json.loads(done.stdout)["findings"]}
    assert {("OGC-20-089/req-11", "error"), ("eopde/image-registry", "warning")} <= found


# --------------------------------------------------------------------------- --strict as a gate

PAPERMILL_NB = {
    "cells": [
        {"cell_type": "markdown", "metadata": {},
         "source": ["# Zonal summary\n", "\n", "Summarises values per zone into a CSV file.\n"]},
        {"cell_type": "code", "execution_count": None, "metadata": {"tags": ["parameters"]},
         "outputs": [], "source": ["zones = 4  # How many zones\n",
                                   "label = \"run\"  # A label written into the CSV\n"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["import csv\n", "with open('summary.csv', 'w') as f:\n",
                    "    csv.writer(f).writerows([[label, z] for z in range(zones)])\n"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}


def test_packages_written_by_eopde_package_pass_strict(tmp_path):
    """`eopde package` with its defaults (as a user runs it), then `eopde validate --strict`."""
    from test_apppkg_papermill import IDIOMS, WATER, write_notebook  # papermill-shaped

    papermill = tmp_path / "zonal.ipynb"
    papermill.write_text(json.dumps(PAPERMILL_NB))
    notebooks = [REPO / "notebooks" / "apps" / "ndvi.ipynb",
                 REPO / "tests" / "data" / "run_package" / "app.ipynb", papermill,
                 write_notebook(tmp_path / "water_mask.ipynb", WATER),
                 write_notebook(tmp_path / "idioms.ipynb", IDIOMS)]
    for nb in notebooks:
        out = tmp_path / nb.stem
        made = subprocess.run([str(BIN / "eopde"), "package", str(nb), "-o", str(out)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        done = subprocess.run([str(BIN / "eopde"), "validate", "--strict", "--json", str(out)],
                              capture_output=True, text=True, timeout=120)
        report = json.loads(done.stdout)
        assert done.returncode == 0 and report["valid"] is True, (nb.name, report)
        assert {f["severity"] for f in report["findings"]} <= {"advice"}, (nb.name, report)


def test_a_sub_workflow_listed_first_is_the_entry_point_with_a_warning():
    """ZOO-Project-DRU deploys the first Workflow: say so when that one is a sub-workflow."""
    from eopde.apppkg.cwlmodel import load_package

    pkg = load_package((PUBLISHED / "two-workflows.cwl").read_text())
    graph = pkg.doc["$graph"]
    graph.insert(0, graph.pop(1))  # preprocess first
    report = validate(pkg.plain())
    assert report.entry == "preprocess"
    [f] = [f for f in report.findings if f.rule == "eopde/entry-point"]
    assert f.severity == "warning" and "a step of change-detection runs it" in f.message
    assert f.fix == ("put change-detection first in the $graph, or deploy and validate with "
                     "w=change-detection / -w change-detection")
    fixed = validate(pkg.plain(), workflow_id="change-detection")
    assert fixed.entry == "change-detection" and "eopde/entry-point" not in fixed.rules()
