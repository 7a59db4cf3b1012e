"""What the wizard's requests do, without tornado: find the notebook inside the server's root,
detect its parameters, make the package, validate it. Each calls the library functions the CLI
uses (`eopde.apppkg`); this module only adds the checks of a request and the JSON shapes."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import RequestError, scrub

MAX_PATH = 1024
MAX_CWL = 1_000_000
_LINE = re.compile(r"\bline (\d+)\b")


def resolve_notebook(root: str | Path, api_path: Any, hidden_ok: bool = False) -> Path:
    """The notebook at `api_path` (relative to the server's root, as JupyterLab names files).

    Refused (4xx): not a string, absolute, escaping the root (`..`, a symbolic link pointing
    out), hidden (unless the server allows hidden files), missing, not a .ipynb file."""
    if not isinstance(api_path, str) or not api_path.strip() or len(api_path) > MAX_PATH:
        raise RequestError(400, "`path` must be the notebook's path in JupyterLab's file browser, "
                           "e.g. `tutorials/apps/ndvi.ipynb`.", field="path")
    rel = api_path.strip().strip("/")  # JupyterLab's paths are relative; a leading / is too
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or "\x00" in rel:
        raise RequestError(403, f"`{api_path}` is outside the folder this server shows; give a "
                           "path relative to it, without `..`.", field="path")
    if not hidden_ok and any(p.startswith(".") for p in parts):
        raise RequestError(403, f"`{api_path}` is a hidden file; move the notebook to a visible "
                           "folder.", field="path")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base):
        raise RequestError(403, f"`{api_path}` leads outside the folder this server shows (a "
                           "symbolic link?); copy the notebook into it.", field="path")
    if target.suffix != ".ipynb":
        raise RequestError(400, f"`{api_path}` is not a notebook (.ipynb).", field="path")
    if not target.is_file():
        raise RequestError(404, f"no notebook `{api_path}`; it may have been moved or renamed.",
                           field="path")
    return target


def _edits(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    edits = body.get("parameters")
    edits = {} if edits is None else edits
    if not isinstance(edits, Mapping) or not all(isinstance(k, str) for k in edits):
        raise RequestError(400, "`parameters` must map parameter names to {type, label, doc}.",
                           field="parameters")
    return dict(edits)


def _read(notebook: Path, api_path: str) -> Any:
    from eopde.apppkg.parameters import read_notebook

    try:
        return read_notebook(notebook)
    except Exception:  # nbformat raises several kinds for a file that is not a notebook
        raise RequestError(422, f"`{api_path}` is not a readable notebook (nbformat 4 JSON); "
                           "open it in JupyterLab and save it again.", field="path") from None


def edited_notebook(notebook: Path, api_path: str, edits: Mapping[str, Mapping[str, Any]]):
    """The notebook node with the wizard's edits written into its parameters cell."""
    from eopde.apppkg.parameters import find_parameters_cell, NotebookParametersError

    nb = _read(notebook, api_path)
    if not edits:
        return nb
    try:
        index = find_parameters_cell(nb)
    except NotebookParametersError as err:
        raise RequestError(422, str(err), field="parameters", cell=err.cell) from None
    from eopde.apppkg.paramedits import ParameterEditError, apply_overrides

    cell = nb.cells[index]
    try:
        cell.source = apply_overrides(cell.source, edits)
    except ParameterEditError as err:
        raise RequestError(err.status, str(err), field=err.field) from None
    return nb


def _problems(warnings: list[str], cell: int) -> tuple[dict[int, list[str]], list[dict]]:
    """The library's warnings by line of the parameters cell, and all as {message, cell, line}."""
    by_line: dict[int, list[str]] = {}
    listed = []
    for w in warnings:
        m = _LINE.match(w) or _LINE.search(w)
        line = int(m.group(1)) if m else None
        if line is not None:
            by_line.setdefault(line, []).append(w)
        listed.append({"message": w, "cell": cell if cell >= 0 else None, "line": line})
    return by_line, listed


def detect(notebook: Path, api_path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/parameters: the parameters (with the wizard's edits applied), each with the
    problems found on its line, and the cell's source digest (to tell when it changed)."""
    import hashlib

    from eopde.apppkg.parameters import NotebookParametersError, read_parameters

    nb = edited_notebook(notebook, api_path, _edits(body))
    try:
        found = read_parameters(nb)
    except NotebookParametersError as err:
        return {"parameters": [], "cell": err.cell, "problems": [
            {"message": str(err), "cell": err.cell, "line": err.line}], "digest": None}
    by_line, problems = _problems(found.warnings, found.cell)
    params = []
    for p in found:
        item = p.to_json()
        item.update(line=p.line, cell=found.cell, problems=by_line.pop(p.line, []))
        params.append(item)
    source = _read(notebook, api_path).cells[found.cell].source if found.cell >= 0 else ""
    return {"parameters": params, "cell": found.cell, "problems": problems,
            "digest": hashlib.sha256(source.encode()).hexdigest()[:16]}


# --- package and validate -------------------------------------------------------------------

_META_TEXT = {  # request field -> (make_package keyword, limit)
    "id": ("app_id", 100), "label": ("title", 300), "description": ("description", 4000),
    "version": ("version", 50), "author": ("author", 300), "affiliation": ("affiliation", 300),
    "license": ("license", 300), "codeRepository": ("code_repository", 500),
    "image": ("image", 500),
}
MAX_CORES = 256
MAX_RAM = 4 * 1024 * 1024  # MiB


def package_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """make_package's keywords from the wizard's Metadata and Runtime steps (4xx on bad ones)."""
    meta = {} if body.get("metadata") is None else body["metadata"]
    runtime = {} if body.get("runtime") is None else body["runtime"]
    if not isinstance(meta, Mapping) or not isinstance(runtime, Mapping):
        raise RequestError(400, "`metadata` and `runtime` must be objects.", field="metadata")
    options: dict[str, Any] = {}
    for key, (keyword, limit) in _META_TEXT.items():
        value = (runtime if key == "image" else meta).get(key)
        if value is None or value == "":
            continue
        one_line = key != "description"
        if not isinstance(value, str) or len(value) > limit or (one_line and "\n" in value):
            raise RequestError(400, f"`{key}` must be text of at most {limit} characters"
                               + (" on one line" if one_line else "") + ".",
                               field=f"{'runtime' if key == 'image' else 'metadata'}.{key}")
        options[keyword] = value.strip()
    keywords = meta.get("keywords")
    if keywords not in (None, []):
        if not isinstance(keywords, list) or len(keywords) > 50 or not all(
                isinstance(k, str) and 0 < len(k.strip()) <= 100 for k in keywords):
            raise RequestError(400, "`keywords` must be a list of at most 50 words or phrases.",
                               field="metadata.keywords")
        options["keywords"] = [k.strip() for k in keywords]
    for key, limit, unit in (("cores", MAX_CORES, "CPU cores"), ("ram", MAX_RAM, "MiB")):
        value = runtime.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise RequestError(400, f"`{key}` must be a whole number of {unit} from 1 to {limit}.",
                               field=f"runtime.{key}")
        options[key] = value
    return options


def build_package(notebook: Path, api_path: str, body: Mapping[str, Any], work: Path) -> Any:
    """The package of the wizard's choices, made by `make_package` as `eopde package` makes it,
    in `work/package` (from a copy of the notebook with the edits, in `work/src`)."""
    import nbformat

    from eopde.apppkg.package import PackageError, make_package
    from eopde.apppkg.parameters import NotebookParametersError

    options = package_options(body)
    nb = edited_notebook(notebook, api_path, _edits(body))
    src = Path(work, "src", notebook.name)
    src.parent.mkdir(parents=True)
    nbformat.write(nb, str(src))
    hide = {str(work): "", str(notebook.parent): ""}
    if "code_repository" not in options:  # the copy is outside the notebook's git checkout
        options["code_repository"] = _repository_of(notebook.parent)
    try:
        pkg = make_package(src, Path(work, "package"), **options)
    except NotebookParametersError as err:
        raise RequestError(422, scrub(str(err), hide), field="parameters", cell=err.cell,
                           line=err.line) from None
    except PackageError as err:
        raise RequestError(422, scrub(str(err), hide), field=_field_of(str(err))) from None
    pkg.warnings[:] = [scrub(w, hide) for w in pkg.warnings]
    return pkg


def package(notebook: Path, api_path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /eopde/package: the package made in a temporary folder, as `eopde package` makes it;
    answers its CWL text, its OGC process description and the validation findings."""
    with tempfile.TemporaryDirectory(prefix="eopde-wizard-") as tmp:
        pkg = build_package(notebook, api_path, body, Path(tmp))
        cwl_text = pkg.cwl_path.read_text(encoding="utf-8")
        result = {
            "id": pkg.app_id, "version": pkg.version, "image": pkg.image,
            "files": sorted(p.relative_to(pkg.directory).as_posix() for p in pkg.files),
            "warnings": list(pkg.warnings),
            "requirements": pkg.requirements.lines(),
        }
    result.update(check(cwl_text), cwl=cwl_text)
    return result


def _repository_of(folder: Path) -> str:
    """The public URL of the git remote `origin` of `folder`, as `eopde package` finds it
    there ("" when none: the package then says that s:codeRepository is missing)."""
    import subprocess

    from eopde.apppkg.package import public_repository_url

    try:
        out = subprocess.run(["git", "remote", "get-url", "origin"], cwd=folder,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (public_repository_url(out.stdout.strip()) or "") if out.returncode == 0 else ""


def _field_of(message: str) -> str:
    for word, field in (("application id", "metadata.id"), ("version", "metadata.version"),
                        ("--cores", "runtime.cores"), ("license", "metadata.license")):
        if message.startswith(word) or word in message[:40]:
            return field
    return "metadata"


def check(cwl_text: Any) -> dict[str, Any]:
    """POST /eopde/validate: the findings of `eopde validate` on CWL text, and the OGC process
    description an ADES would publish for it (None when it cannot be derived)."""
    from eopde.apppkg.validate import validate

    if not isinstance(cwl_text, str) or not cwl_text.strip() or len(cwl_text) > MAX_CWL:
        raise RequestError(400, f"`cwl` must be the CWL document's text (at most {MAX_CWL} "
                           "characters).", field="cwl")
    # Always text, never a path: the library reads a one-line string that looks like a path
    # as a file name, and nothing may be read here because a request named it.
    text = cwl_text if "\n" in cwl_text.strip() else cwl_text.strip() + "\n\n"
    report = validate(text)
    return {"valid": report.valid, "findings": report.to_dict()["findings"],
            "process": describe(text)}


def describe(cwl_text: str) -> dict[str, Any] | None:
    """The OGC API - Processes description the platform's ADES derives from the CWL (the same
    function: eopde.apppkg.describe)."""
    from eopde.apppkg.describe import describe as ades_describe

    try:
        return ades_describe(cwl_text)
    except Exception:  # an invalid document: the findings say why
        return None
