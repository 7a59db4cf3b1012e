"""The application packages in the shapes EOEPCA / eoap / Terradue publish (tests/data/published/,
its README says where each shape comes from) and the entry point every reader of CWL must pick in
each: one list for the tests of the readers (test_cwlmodel) and of the ADES (test_published_ades)."""

from __future__ import annotations

from pathlib import Path

PUBLISHED = Path(__file__).resolve().parent / "data" / "published"

#: file -> the entry point every reader must pick (None: no Workflow, not deployable)
ENTRY = {
    "scatter-string-items.cwl": "flood-extent",
    "main-id.cwl": "main",
    "stage-in-directory.cwl": "burned-area",
    "enum-record.cwl": "spectral-index",
    "single-tool.cwl": None,
    "directory-array.cwl": "water-mask",
    "two-workflows.cwl": "change-detection",
    "local-image-no-version.cwl": "my-notebook",
    "invalid-bad-source.cwl": "broken-link",
    "invalid-bad-type.cwl": "bad-type",
}

#: file -> the process an ADES deploys it as: a Workflow in CWL that cwltool accepts
DEPLOYABLE = {name: entry for name, entry in ENTRY.items()
              if entry is not None and not name.startswith("invalid-")}
