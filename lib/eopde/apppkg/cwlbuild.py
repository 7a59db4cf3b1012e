"""The CWL document of an application package (part of :mod:`eopde.apppkg.package`): a `$graph`
of a Workflow (the entry point, id = the application id) whose single step runs a
CommandLineTool running papermill on the notebook in the container image; the parameters file
the tool writes for papermill (a JavaScript expression keeping each input's type); the YAML text,
checked to read back as built."""

from __future__ import annotations

import json
from typing import Any

from .layout import APP_DIR_IN_IMAGE

CWL_VERSION = "v1.2"
PARAMS_FILE = "parameters.yaml"
RESULTS_ID = "results"
STEP_ID = "notebook"
#: The package folder's copy of eopde modules the image needs (`eopde.outputs`).
VENDOR_DIR = "vendor"


def _params_expression(parameters) -> str:
    """JavaScript (a CWL `${...}` body) writing the parameters as a YAML (JSON) mapping."""
    lines = [
        "${",
        "  function num(v) {",
        "    if (typeof v !== 'number' || !isFinite(v)) { return JSON.stringify(v); }",
        "    var s = String(v);",
        "    if (s.indexOf('.') < 0) {",
        "      var e = s.search(/[eE]/);",
        "      s = e < 0 ? s + '.0' : s.slice(0, e) + '.0' + s.slice(e);",
        "    }",
        "    return s;",
        "  }",
        "  function enc(v, isFloat) {",
        "    if (v === null || v === undefined) { return 'null'; }",
        "    if (Array.isArray(v)) {",
        "      return '[' + v.map(function (x) { return enc(x, isFloat); }).join(', ') + ']';",
        "    }",
        "    if (typeof v === 'object' && v.class === 'Directory') { return JSON.stringify(v.path); }",
        "    return isFloat ? num(v) : JSON.stringify(v);",
        "  }",
        "  function json(v, name) {",
        "    if (v === null || v === undefined) { return 'null'; }",
        "    try { JSON.parse(v); } catch (e) {",
        "      throw new Error('input ' + name + ' must be JSON text (' + e.message + ')');",
        "    }",
        "    // JSON is YAML, but YAML 1.1 (as papermill reads it) takes 2e3 and 2.0e3 for strings:",
        "    // write 2.0e+3. Raw line breaks and tabs only occur between JSON tokens. (No quote",
        "    // marks in this code outside strings: the CWL expression scanner would take them",
        "    // for ones.)",
        "    return v.replace(/[\\t\\r\\n]+/g, ' ').replace(",
        "      /\\x22(?:[^\\x22\\\\]|\\\\.)*\\x22|-?\\d+(?:\\.\\d+)?[eE][+-]?\\d+/g, function (m) {",
        "        if (m.charAt(0) === '\\x22') { return m; }",
        "        var e = m.search(/[eE]/);",
        "        var mantissa = m.slice(0, e), exponent = m.slice(e + 1);",
        "        if (mantissa.indexOf('.') < 0) { mantissa = mantissa + '.0'; }",
        "        if (exponent.charAt(0) !== '+' && exponent.charAt(0) !== '-') {",
        "          exponent = '+' + exponent;",
        "        }",
        "        return mantissa + 'e' + exponent;",
        "      });",
        "  }",
        "  var out = [];",
    ]
    for p in parameters:
        is_float = "true" if p.kind == "double" else "false"
        # names are Python identifiers (input ids too): no quotes or backslashes to escape
        if p.json:  # the notebook receives the value the JSON text stands for
            value = f"json(inputs['{p.input_id}'], '{p.input_id}')"
        else:
            value = f"enc(inputs['{p.input_id}'], {is_float})"
        lines.append(f"  out.push('\"{p.name}\": ' + {value});")
    lines += ["  return '{' + out.join(', ') + '}';", "}"]
    return "\n".join(lines)


def _input(p, with_docs: bool, enum_name: str | None = None) -> dict:
    entry: dict[str, Any] = {"type": p.cwl_type(enum_name)}
    if with_docs:
        entry["label"] = p.label
        entry["doc"] = p.doc
        if p.json:
            entry["doc"] = (p.doc.rstrip(".") + ". " if p.documented else "") + (
                f"JSON text; the notebook receives it as a Python {p.python_type()}.")
    if p.has_default:
        entry["default"] = p.cwl_default
    return entry


#: The tool's command when it builds the result catalog: papermill, then eopde.outputs (found
#: in the image's PYTHONPATH, or in the package's vendor/ folder when run without a container).
#: Positional arguments: $1 the notebook, $2 the executed notebook, $3 the vendor folder.
WRAPPER_SCRIPT = """set -e
papermill "$1" "$2" -f {params} -k python3 --language python --log-output --no-progress-bar
if [ -n "$PYTHONPATH" ]; then PYTHONPATH="$3:$PYTHONPATH"; else PYTHONPATH="$3"; fi
export PYTHONPATH
exec python -m eopde.outputs --notebook "$2" --parameters {params} .
"""


def build_cwl(*, app_id: str, version: str, image: str, notebook_name: str, parameters,
              title: str, description: str, metadata: dict, cores: int, ram: int,
              network: bool, builds_catalog: bool = False) -> dict:
    tool_id = f"{app_id}-{STEP_ID}"
    wf_inputs = {p.input_id: _input(p, True) for p in parameters}
    tool_inputs = {p.input_id: _input(p, True) for p in parameters}
    requirements: dict[str, Any] = {
        "DockerRequirement": {"dockerPull": image},
        "ResourceRequirement": {"coresMin": cores, "coresMax": cores,
                                "ramMin": ram, "ramMax": ram},
        "InlineJavascriptRequirement": {},
        "InitialWorkDirRequirement": {"listing": [
            {"entryname": PARAMS_FILE, "entry": _params_expression(parameters)}]},
        "EnvVarRequirement": {"envDef": {
            # keep Jupyter's and IPython's scratch files out of the result folder
            "JUPYTER_RUNTIME_DIR": "$(runtime.tmpdir)/jupyter-runtime",
            "IPYTHONDIR": "$(runtime.tmpdir)/ipython",
            "MPLCONFIGDIR": "$(runtime.tmpdir)/matplotlib",
            "PYTHONUNBUFFERED": "1",
        }},
    }
    if network:
        requirements["NetworkAccess"] = {"networkAccess": True}
    workflow = {
        "class": "Workflow",
        "id": app_id,
        "label": title,
        "doc": description,
        "inputs": wf_inputs,
        "outputs": {RESULTS_ID: {
            "type": "Directory",
            "label": "Results",
            "doc": "STAC catalog (catalog.json) of the results, with the executed notebook",
            "outputSource": f"{STEP_ID}/{RESULTS_ID}"}},
        "steps": {STEP_ID: {
            "run": f"#{tool_id}",
            "in": {p.input_id: p.input_id for p in parameters},
            "out": [RESULTS_ID]}},
    }
    tool = {
        "class": "CommandLineTool",
        "id": tool_id,
        "label": f"{title}: run the notebook",
        "doc": f"Runs {notebook_name} with papermill inside the container image {image}.",
        "baseCommand": ["papermill"],
        "arguments": [f"{APP_DIR_IN_IMAGE}/{notebook_name}", notebook_name,
                      "-f", PARAMS_FILE, "-k", "python3", "--language", "python", "--log-output",
                      "--no-progress-bar"],
        "requirements": requirements,
        "inputs": tool_inputs,
        "outputs": {RESULTS_ID: {"type": "Directory", "outputBinding": {"glob": "."}}},
    }
    if builds_catalog:
        tool["doc"] = (f"Runs {notebook_name} with papermill inside the container image {image}, "
                       "then builds the result STAC catalog from the files it wrote.")
        tool["baseCommand"] = ["sh", "-c"]
        tool["arguments"] = [WRAPPER_SCRIPT.format(params=PARAMS_FILE), "eopde-notebook",
                             f"{APP_DIR_IN_IMAGE}/{notebook_name}", notebook_name,
                             f"{APP_DIR_IN_IMAGE}/{VENDOR_DIR}"]
    doc: dict[str, Any] = {"cwlVersion": CWL_VERSION,
                           "$namespaces": {"s": "https://schema.org/"}}
    doc.update(metadata)
    doc["$graph"] = [workflow, tool]
    return doc


def dump_yaml(doc: dict) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def str_rep(dumper, data):
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    Dumper.add_representer(str, str_rep)
    Dumper.ignore_aliases = lambda self, data: True
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def dump_checked(doc: dict) -> str:
    """The CWL text, read back through `cwlmodel` (cwlload's loader, ruamel, YAML 1.2 as cwltool
    reads it) to make sure it says what was built (PyYAML writes YAML 1.1: a value it left
    unquoted would read otherwise) and has the entry point it was built with."""
    from .cwlmodel import load_package

    text = dump_yaml(doc)
    model = load_package(text)
    if model.plain() != json.loads(json.dumps(doc)) or model.entry().id != doc["$graph"][0]["id"]:
        raise ValueError("internal error: the CWL written does not read back as built; report "
                         "this notebook to the eopde maintainers")
    return text


