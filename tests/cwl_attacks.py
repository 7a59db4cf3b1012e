"""Hostile CWL for the loader tests: a valid package (tests/data/cwl/good.cwl) with one way of
making a CWL loader read another file or URL put into it (`$include`, `$import`, `$mixin`, a
`run:` of a file, `$schemas`, a File literal), and a YAML alias bomb."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

GOOD = Path(__file__).resolve().parent / "data" / "cwl" / "good.cwl"


def _base() -> dict:
    return yaml.safe_load(GOOD.read_text())


def variants(target: str) -> dict[str, str]:
    """{form: CWL text} where each form makes a loader read `target` (an absolute path)."""
    url = "file://" + target
    out: dict[str, dict] = {}

    def variant(name):
        doc = copy.deepcopy(_base())
        out[name] = doc
        wf, tool = doc["$graph"]
        return doc, wf, tool

    _, wf, _ = variant("include-doc")
    wf["doc"] = {"$include": target}
    _, wf, _ = variant("include-type")
    wf["inputs"]["threshold"]["type"] = {"$include": target}
    _, wf, _ = variant("import-type-url")
    wf["inputs"]["threshold"]["type"] = {"$import": url}
    _, wf, _ = variant("import-schemadef")
    wf["requirements"]["SchemaDefRequirement"] = {"types": [{"$import": target}]}
    _, _, tool = variant("mixin")
    tool["$mixin"] = target
    doc, _, _ = variant("import-graph-item")
    doc["$graph"].append({"$import": url})
    _, wf, _ = variant("run-file")
    wf["steps"]["run_notebook"]["run"] = target
    _, wf, _ = variant("run-file-url")
    wf["steps"]["run_notebook"]["run"] = url
    doc, _, _ = variant("schemas")
    doc["$schemas"] = [target]
    _, wf, _ = variant("file-default")
    wf["inputs"]["extra"] = {"type": "File", "label": "extra", "doc": "extra",
                             "default": {"class": "File", "location": url}}
    return {name: yaml.safe_dump(doc, sort_keys=False) for name, doc in out.items()}


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" CWL under 1 KB: `width ** levels` strings once expanded."""
    lines = ["cwlVersion: v1.2", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", '
             '"lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"$graph: [{{class: Workflow, id: bomb, doc: *l{levels - 1}, inputs: [], "
                 "outputs: [], steps: []}]")
    return "\n".join(lines) + "\n"
