"""Notebook -> OGC EO Application Package (OGC 20-089): the CWL document, the notebook, and the
container recipe (requirements.txt + Dockerfile) in one folder.

The CWL is one document with a `$graph`: a Workflow (the entry point, id = the application id) whose
single step runs a CommandLineTool. The tool runs papermill on the notebook inside the container
image (at `APP_DIR_IN_IMAGE/<notebook>`), writing the executed notebook and the results into its
output directory, which is the package's result `Directory` (`glob: .`).

Results: a notebook that calls `eopde.outputs.save` writes the result STAC catalog itself, and the
tool runs papermill alone. Any other notebook just writes files into its working folder; the tool
then runs papermill and, after it, `python -m eopde.outputs` (shipped in the image), which builds
the catalog from those files (`eopde.outputs.catalog_from_folder`). Either way the result is the
Directory holding catalog.json that OGC 20-089 stage-out expects.

Parameters reach papermill as a YAML file (`-f parameters.yaml`) written by the tool itself with
InitialWorkDirRequirement + a JavaScript expression: each input keeps its type (ints, floats — with a
decimal point so papermill sees a float —, booleans, strings with any characters, lists, null for an
optional input left out, and the local path of each Directory).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .layout import APP_DIR_IN_IMAGE

CWL_VERSION = "v1.2"
PARAMS_FILE = "parameters.yaml"
RESULTS_ID = "results"
STEP_ID = "notebook"
DEFAULT_BASE_IMAGE = "docker.io/library/python:{py}-slim"
VENDOR_DIR = "vendor"
DEFAULT_LICENSE = "Apache-2.0"
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


class PackageError(ValueError):
    """The package cannot be made as asked; the message says what to change."""


class NoContainerEngine(RuntimeError):
    """Neither docker nor podman can build images here; the message says what to run elsewhere."""


@dataclass
class Package:
    """A generated application package folder."""

    app_id: str
    version: str
    image: str
    directory: Path
    cwl_path: Path
    notebook_path: Path
    requirements_path: Path
    dockerfile_path: Path
    cwl: dict
    parameters: Any                    # parameters.NotebookParameters
    requirements: Any                  # environment.Requirements
    warnings: list[str] = field(default_factory=list)
    builds_catalog: bool = False       # the tool builds the result catalog after papermill

    @property
    def results_note(self) -> str:
        """Which way the package makes its result STAC catalog, in a sentence."""
        if self.builds_catalog:
            return ("the notebook does not call eopde.outputs.save, so after papermill the tool "
                    "builds the result STAC catalog from the files the notebook writes into its "
                    "working folder (one item, an asset per file, plus the executed notebook)")
        return ("the notebook calls eopde.outputs.save: the catalog.json it writes is the "
                "result STAC catalog")

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file())

    def build_command(self, engine: str = "docker") -> list[str]:
        return [engine, "build", "-t", self.image, str(self.directory)]


# --- metadata from the notebook -------------------------------------------------------------

def notebook_title_and_description(nb) -> tuple[str | None, str | None]:
    """The first markdown heading, and the first paragraph of text after it."""
    title = description = None
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        paragraph: list[str] = []
        for line in cell.source.splitlines() + [""]:
            stripped = line.strip()
            if stripped.startswith("#"):
                if paragraph and description is None:
                    break
                if title is None:
                    title = stripped.lstrip("#").strip()
                continue
            if not stripped:
                if paragraph:
                    break
                continue
            paragraph.append(stripped)
        if paragraph and description is None:
            description = " ".join(paragraph)
        if title and description:
            break
    return title, description


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if s and not s[0].isalpha():
        s = "app-" + s
    return s


def parse_author(text: str) -> dict:
    """"Given Family <email>" -> {givenName, familyName, email}."""
    m = re.match(r"^\s*(.*?)\s*(?:<([^>]+)>)?\s*$", text)
    name, email = (m.group(1), m.group(2)) if m else (text, None)
    parts = name.split()
    given = " ".join(parts[:-1]) if len(parts) > 1 else (parts[0] if parts else "")
    family = parts[-1] if len(parts) > 1 else ""
    return {"givenName": given, "familyName": family, "email": email or ""}


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _license(value: str) -> dict:
    if value.startswith(("http://", "https://")):
        return {"class": "s:CreativeWork", "s:name": value.rstrip("/").rsplit("/", 1)[-1],
                "s:url": value}
    return {"class": "s:CreativeWork", "s:identifier": value, "s:name": value,
            "s:url": f"https://spdx.org/licenses/{value}"}


# --- the CWL --------------------------------------------------------------------------------

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


def calls_outputs_save(nb) -> bool:
    """Whether a code cell calls `eopde.outputs.save` (however it was imported)."""
    import ast

    modules, functions = {"eopde.outputs"}, set()
    calls = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in cell.source.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "eopde":
                modules |= {a.asname or a.name for a in node.names if a.name == "outputs"}
            elif isinstance(node, ast.ImportFrom) and node.module == "eopde.outputs":
                functions |= {a.asname or a.name for a in node.names if a.name == "save"}
            elif isinstance(node, ast.Import):
                modules |= {a.asname for a in node.names if a.name == "eopde.outputs" and a.asname}
            elif isinstance(node, ast.Call):
                calls.append(node.func)
    for func in calls:
        if isinstance(func, ast.Name) and func.id in functions:
            return True
        if isinstance(func, ast.Attribute) and func.attr == "save" and \
                ast.unparse(func.value) in modules:
            return True
    return False


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


def _dump(doc: dict) -> str:
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


def _dump_checked(doc: dict) -> str:
    """The CWL text, read back through `cwlmodel` (cwlload's loader, ruamel, YAML 1.2 as cwltool
    reads it) to make sure it says what was built (PyYAML writes YAML 1.1: a value it left
    unquoted would read otherwise) and has the entry point it was built with."""
    from .cwlmodel import load_package

    text = _dump(doc)
    model = load_package(text)
    if model.plain() != json.loads(json.dumps(doc)) or model.entry().id != doc["$graph"][0]["id"]:
        raise ValueError("internal error: the CWL written does not read back as built; report "
                         "this notebook to the eopde maintainers")
    return text


def dockerfile_text(notebook_name: str, python: str, vendored: bool) -> str:
    base = DEFAULT_BASE_IMAGE.format(py=python)
    lines = [
        "# Generated by `eopde package`. Build: docker build -t IMAGE .  (or podman build;",
        "# repo2docker also picks this Dockerfile up).",
        f"FROM {base}",
        "ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1",
        "COPY requirements.txt /tmp/eopde-requirements.txt",
        "RUN pip install -r /tmp/eopde-requirements.txt && python -m ipykernel install --sys-prefix",
    ]
    if vendored:
        lines += [f"COPY {VENDOR_DIR}/ /opt/eopde/{VENDOR_DIR}/",
                  f"ENV PYTHONPATH=/opt/eopde/{VENDOR_DIR}"]
    lines += [
        f"COPY {json.dumps([notebook_name, f'{APP_DIR_IN_IMAGE}/{notebook_name}'])}",
        f"WORKDIR {APP_DIR_IN_IMAGE}",
        'CMD ["papermill", "--help"]',
    ]
    return "\n".join(lines) + "\n"


# --- the package ----------------------------------------------------------------------------

def make_package(notebook: str | Path, output: str | Path, *,
                 app_id: str | None = None,
                 version: str = "1.0.0",
                 image: str | None = None,
                 title: str | None = None,
                 description: str | None = None,
                 author: str | None = None,
                 email: str | None = None,
                 affiliation: str | None = None,
                 publisher: str | None = None,
                 license: str | None = None,
                 code_repository: str | None = None,
                 help_url: str | None = None,
                 keywords: list[str] | None = None,
                 cores: int = 1,
                 ram: int = 2048,
                 network: bool | None = None,
                 date_created: str | None = None,
                 overwrite: bool = True) -> Package:
    """Write the application package of `notebook` into the folder `output`.

    Raises NotebookParametersError for a notebook whose parameters cannot be typed and PackageError
    for bad options. Warnings (missing docs, defaulted metadata) are in `Package.warnings`."""
    import sys

    from .environment import requirements_for
    from .parameters import read_notebook, read_parameters

    src = Path(notebook)
    if not src.is_file():
        raise PackageError(f"{src} is not a file; give the path of a .ipynb notebook")
    nb = read_notebook(src)
    params = read_parameters(nb)
    warnings = list(params.warnings)

    app_id = app_id or slug(src.stem)
    if not app_id or not _ID.match(app_id):
        raise PackageError(f"application id {app_id!r}: use lowercase letters, digits, '-' and "
                           "'_', starting with a letter (e.g. --id ndvi-s2)")
    if app_id == "main":
        raise PackageError("the application id cannot be `main` (it collides with cwltool's and "
                           "wrappers' default entry point); give another with --id")
    if not re.match(r"^[0-9A-Za-z][0-9A-Za-z._+-]*$", version):
        raise PackageError(f"version {version!r}: use e.g. 1.0.0")
    if cores < 1 or ram < 1:
        raise PackageError("--cores and --ram must be positive (cores, MiB)")
    image = image or f"localhost/eopde/{app_id}:{version}"

    nb_title, nb_desc = notebook_title_and_description(nb)
    title = title or nb_title
    if not title:
        title = src.stem.replace("_", " ").replace("-", " ").strip().capitalize()
        warnings.append("the notebook has no markdown heading: the title was derived from its file "
                        "name; start the notebook with `# Title` or pass --title.")
    description = description or nb_desc
    if not description:
        description = f"{title} (notebook {src.name} run with papermill)."
        warnings.append("the notebook has no introductory paragraph under its title: the "
                        "description is a placeholder; write one or pass --description.")

    repo_dir = src.resolve().parent
    if not author:
        name = _git(["config", "user.name"], repo_dir)
        mail = _git(["config", "user.email"], repo_dir)
        if name:
            author = f"{name} <{mail}>" if mail else name
    person = parse_author(author or "")
    if email:
        person["email"] = email
    if not author:
        person = {"givenName": "Unknown", "familyName": "Author", "email": person["email"]}
        warnings.append("no author given (and no git user.name): pass --author "
                        "\"Given Family <email>\" --affiliation ORG.")
    if not person["email"]:
        warnings.append("the author has no email: pass --author \"Given Family <email>\".")
    if not person["familyName"]:
        warnings.append("the author has no family name: pass --author \"Given Family <email>\".")
    if not affiliation:
        warnings.append("no --affiliation given: the author's affiliation is 'Unknown'.")
    org = {"class": "s:Organization", "s:name": affiliation or "Unknown"}
    license = license or DEFAULT_LICENSE
    if code_repository is None:
        code_repository = public_repository_url(_git(["remote", "get-url", "origin"], repo_dir))
    metadata: dict[str, Any] = {
        "s:name": title,
        "s:description": description,
        "s:softwareVersion": version,
        "s:dateCreated": date_created or _dt.date.today().isoformat(),
        "s:license": _license(license),
        "s:author": [{"class": "s:Person",
                      "s:givenName": person["givenName"],
                      "s:familyName": person["familyName"],
                      "s:email": person["email"],
                      "s:affiliation": org}],
        "s:publisher": {"class": "s:Organization", "s:name": publisher or org["s:name"]},
        "s:keywords": list(keywords or ["earth observation", "application package",
                                        "notebook", "papermill"]),
        "s:programmingLanguage": "Python",
        "s:softwareHelp": {"class": "s:CreativeWork",
                           "s:name": f"The notebook {src.name}, shipped in the package"},
    }
    if code_repository:
        metadata["s:codeRepository"] = code_repository
    else:
        warnings.append("no code repository found (no git remote `origin`): pass "
                        "--code-repository URL so that s:codeRepository is filled.")
    if help_url or code_repository:
        metadata["s:softwareHelp"]["s:url"] = help_url or code_repository
    if network is None:
        network = any(isinstance(p.default, str) and p.default.startswith(("http://", "https://"))
                      for p in params)

    out = Path(output)
    cwl_path = out / f"{app_id}.cwl"
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise PackageError(f"{out} is not empty")
        if not cwl_path.exists() and not (out / "Dockerfile").exists():
            raise PackageError(f"{out} is not empty and does not look like a package of "
                               f"{app_id}; choose an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.cwl"):  # a package folder holds one CWL document
        if stale != cwl_path:
            stale.unlink()

    reqs = requirements_for(nb, src.parent)
    warnings.extend(reqs.warnings)
    builds_catalog = not calls_outputs_save(nb)
    if builds_catalog:
        _ship_outputs_module(reqs)
    notebook_name = src.name
    cwl = build_cwl(app_id=app_id, version=version, image=image, notebook_name=notebook_name,
                    parameters=params, title=title, description=description,
                    metadata=metadata, cores=cores, ram=ram, network=network,
                    builds_catalog=builds_catalog)

    nb_dest = out / notebook_name
    if nb_dest.resolve() != src.resolve():
        _copy_notebook(src, nb, nb_dest)
    cwl_path.write_text(_dump_checked(cwl))
    req_path = out / "requirements.txt"
    req_path.write_text(reqs.text())
    vendor = out / VENDOR_DIR
    if vendor.exists():
        shutil.rmtree(vendor)
    if reqs.vendored:
        import eopde

        pkg_dir = Path(eopde.__file__).parent
        (vendor / "eopde").mkdir(parents=True)
        (vendor / "eopde" / "__init__.py").write_text(
            f'"""eopde modules shipped with an application package."""\n\n'
            f'__version__ = "{eopde.__version__}"\n')
        for module in reqs.vendored:
            rel = Path(*module.split(".")[1:]).with_suffix(".py")
            shutil.copy2(pkg_dir / rel, vendor / "eopde" / rel)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    dockerfile = out / "Dockerfile"
    dockerfile.write_text(dockerfile_text(notebook_name, py, bool(reqs.vendored)))
    (out / ".dockerignore").write_text("*.cwl\n")
    return Package(app_id=app_id, version=version, image=image, directory=out, cwl_path=cwl_path,
                   notebook_path=nb_dest, requirements_path=req_path, dockerfile_path=dockerfile,
                   cwl=cwl, parameters=params, requirements=reqs, warnings=warnings,
                   builds_catalog=builds_catalog)


def _ship_outputs_module(reqs) -> None:
    """The image needs eopde.outputs (and what it imports) to build the result catalog."""
    from importlib import metadata

    from .environment import VENDORED_EOPDE

    if "eopde" in reqs.pinned or "eopde.outputs" in reqs.vendored:
        return
    reqs.vendored.append("eopde.outputs")
    for dist in VENDORED_EOPDE["eopde.outputs"]:
        try:
            name = metadata.metadata(dist)["Name"] or dist
            reqs.pinned.setdefault(name, metadata.version(dist))
        except metadata.PackageNotFoundError:
            reqs.unresolved.append(dist)


def _copy_notebook(src: Path, nb, dest: Path) -> None:
    """Copy the notebook; an older one without cell ids is written with the ids nbformat gave
    it, so that papermill does not warn about them in every run's log."""
    import nbformat

    try:
        raw = json.loads(src.read_text(encoding="utf-8"))
        cells = raw.get("cells", []) if isinstance(raw, dict) else []
        missing = raw.get("nbformat_minor", 0) >= 5 and any("id" not in c for c in cells)
    except (ValueError, OSError, AttributeError, TypeError):
        missing = False
    if missing:
        nbformat.write(nb, str(dest))
    else:
        shutil.copy2(src, dest)


# --- building the image ---------------------------------------------------------------------

def public_repository_url(remote: str | None) -> str | None:
    """A git remote as a public https URL, or None when it is a local path (which would leak
    this machine's layout into the package) or has no host. Credentials in it are dropped."""
    from urllib.parse import urlsplit, urlunsplit

    if not remote:
        return None
    remote = remote.strip()
    if remote.startswith("git@"):
        host, _, path = remote[4:].partition(":")
        return f"https://{host}/{path}" if host and path else None
    parts = urlsplit(remote)
    if parts.scheme not in ("http", "https", "ssh", "git") or not parts.hostname:
        return None
    netloc = parts.hostname + (f":{parts.port}" if parts.port and parts.scheme in
                               ("http", "https") else "")
    return urlunsplit(("https", netloc, parts.path, "", ""))


def find_engine() -> str | None:
    """`docker` or `podman` when one of them can build here (a CLI whose daemon answers)."""
    from .run import RunError, detect_engine

    for name in ("docker", "podman"):
        try:
            return detect_engine(name)[0]
        except RunError:
            continue
    return None


def build_image(package: Package, engine: str | None = None, stream=None) -> str:
    """Build the package's image with docker or podman; returns the engine used.

    Raises NoContainerEngine (with the command to run elsewhere) when neither can build here."""
    engine = engine or find_engine()
    cmd = package.build_command(engine or "docker")
    if engine is None:
        present = [n for n in ("docker", "podman") if shutil.which(n)]
        why = ("no docker or podman on this machine" if not present else
               f"{' and '.join(present)} present but no engine answers (`{present[0]} info` fails)")
        raise NoContainerEngine(
            f"the image was not built: {why}. Build it where an engine runs, from the package "
            f"folder: `{' '.join(cmd[:-1])} .` (or `podman build -t {package.image} .`), then "
            f"push it so that platforms can pull {package.image}.")
    result = subprocess.run(cmd, stdout=stream, stderr=subprocess.STDOUT if stream else None)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit status {result.returncode}")
    return engine
