"""What a run leaves: the :class:`RunResult`, the result folders cwltool reported
(``Directory`` and ``Directory[]`` outputs) and the check of their STAC catalogs, and the reason
of a failure read from cwltool's log. Part of :mod:`eopde.apppkg.run`."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_TAIL_LINES = 40


@dataclass
class RunResult:
    status: str  #: "successful" or "failed" (OGC API - Processes job status words)
    run_dir: Path
    outputs: dict[str, Any] = field(default_factory=dict)  #: cwltool's output object
    catalog: Path | None = None  #: the result catalog.json
    items: list[dict[str, Any]] = field(default_factory=list)  #: {id, datetime, bbox, assets}
    log: Path | None = None
    notebook: Path | None = None  #: the executed notebook, beside the results
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  #: stage_in, cwltool, tool, stage_out
    engine: str | None = None
    message: str = ""
    problems: list[str] = field(default_factory=list)  #: why the result is not valid
    log_tail: str = ""
    job: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    def to_json(self) -> dict[str, Any]:
        out = {}
        for key, value in self.__dict__.items():
            out[key] = str(value) if isinstance(value, Path) else value
        return json.loads(json.dumps(out, default=str))


def _InsideIO(folder: Path):
    """A pystac StacIO reading only files inside ``folder`` (links leading elsewhere, local or
    remote, are refused: a tool's result never makes the checker read other files)."""
    from pystac.stac_io import DefaultStacIO

    root = Path(folder).resolve()

    class InsideIO(DefaultStacIO):
        def read_text_from_href(self, href: str) -> str:
            local = href[7:] if href.startswith("file://") else href
            if "://" in local or not Path(local).resolve().is_relative_to(root):
                raise ValueError("a link leads out of the result folder")
            return super().read_text_from_href(local)

    return InsideIO()


def check_catalog(folder: str | os.PathLike[str]) -> tuple[Path | None, list[dict[str, Any]], list[str]]:
    """Stage-out check of a result folder: (catalog path, items, problems). Each item needs a
    geometry, a bbox, a datetime (or start/end) and at least one asset, every asset a file on
    disk."""
    import pystac

    folder = Path(folder)
    path = folder / "catalog.json"
    if not path.is_file():
        return None, [], [f"{folder} holds no catalog.json: the application must write its "
                          "results as a STAC catalog (OGC 20-089 stage-out)"]
    try:
        cat = pystac.read_file(str(path), stac_io=_InsideIO(folder))
        items = list(cat.get_items(recursive=True)) if isinstance(cat, pystac.Catalog) else []
    except Exception as err:  # never the content of what was read: the type alone
        return path, [], [f"{path}: not a readable STAC catalog ({type(err).__name__})"]
    problems = []
    summary = []
    if not items:
        problems.append(f"{path}: the catalog holds no item")
    for item in items:
        where = f"item {item.id}"
        if not item.geometry:
            problems.append(f"{where}: no geometry")
        if not item.bbox:
            problems.append(f"{where}: no bbox")
        if item.datetime is None and not (item.properties.get("start_datetime")
                                          and item.properties.get("end_datetime")):
            problems.append(f"{where}: no datetime (nor start_datetime/end_datetime)")
        if not item.assets:
            problems.append(f"{where}: no asset")
        assets = {}
        for key, asset in item.assets.items():
            href = asset.get_absolute_href() or asset.href
            local = href[7:] if href.startswith("file://") else href
            if "://" in local:
                problems.append(f"{where}: asset {key} is not a local file ({href})")
            elif not (Path(local).is_file() or Path(local).is_dir()):  # a Zarr store is a folder
                problems.append(f"{where}: asset {key} does not exist ({local})")
            assets[key] = local
        summary.append({"id": item.id, "datetime": item.datetime.isoformat() if item.datetime else
                        item.properties.get("start_datetime"), "bbox": item.bbox, "assets": assets})
    return path, summary, problems


def _tail(path: Path, n: int = LOG_TAIL_LINES) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _failure_reason(log: str) -> str:
    lines = log.splitlines()
    final = next((ln for ln in reversed(lines) if "Final process status is" in ln), "")
    errors = [ln.strip() for ln in lines if ln.startswith(("ERROR", "WARNING [job", "Traceback"))
              or "Error" in ln.split(":")[0]]
    reason = next((ln for ln in reversed(errors) if ln.startswith("ERROR")), "")
    exc = next((ln.strip() for ln in reversed(lines)
                if re.match(r"\s*[A-Za-z_.]*(Error|Exception)\b.*:", ln)), "")
    parts = [p for p in (final, reason, exc) if p]
    return "; ".join(dict.fromkeys(parts)) or "cwltool failed (see the log)"


def _find_notebook(folders: list[Path]) -> Path | None:
    found = [p for f in folders for p in sorted(f.rglob("*.ipynb"))
             if not any(part.startswith(".") for part in p.relative_to(f).parts)]
    found.sort(key=lambda p: (len(p.parts), "executed" not in p.name and "output" not in p.name))
    return found[0] if found else None


def _is_dir(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class") == "Directory" and "path" in value


def _settle(value: dict, dst: Path, outputs_dir: Path) -> Path:
    """Move a result folder cwltool left in ``outputs_dir`` under its random name to ``dst``
    (updating ``value``); returns where it is."""
    src = Path(value["path"])
    if src != dst and not dst.exists() and src.parent == outputs_dir:
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)
        value["path"] = str(dst)
        value["location"] = dst.as_uri()
        value.pop("listing", None)
    return Path(value["path"])


def collect_outputs(outs: dict[str, Any], outputs_dir: Path) -> list[tuple[str, Path]]:
    """The result folders of cwltool's output object ``outs`` (updated in place), as (label,
    folder): a ``Directory`` output ``name`` is moved to ``outputs/<name>/``, each folder of a
    ``Directory[]`` output to ``outputs/<name>/<index>/`` (label ``name[index]``)."""
    found: list[tuple[str, Path]] = []
    for name, value in list(outs.items()):
        if _is_dir(value):
            found.append((name, _settle(value, outputs_dir / name, outputs_dir)))
        elif isinstance(value, list) and value and all(_is_dir(v) for v in value):
            for i, v in enumerate(value):
                found.append((f"{name}[{i}]", _settle(v, outputs_dir / name / str(i),
                                                      outputs_dir)))
    return found


def output_folders(outs: dict[str, Any], names: list[str]) -> dict[str, Path | list[Path]]:
    """``{output: folder}`` of the declared outputs ``names`` that are result folders (a
    ``Directory[]`` output: its list of folders, in order), in the order of ``names``."""
    folders: dict[str, Path | list[Path]] = {}
    for name in names:
        value = outs.get(name)
        if isinstance(value, dict) and _is_dir(value):
            folders[name] = Path(value["path"])
        elif isinstance(value, list) and all(_is_dir(v) for v in value):
            folders[name] = [Path(v["path"]) for v in value]
    return folders
