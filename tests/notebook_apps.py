"""Small notebook apps for the tests that deploy and run them on the platform's ADES: a notebook
written as such apps are (an optional markdown introduction, a cell tagged `parameters`, the
code), packaged with eopde.apppkg and published as a local image, as a developer would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat


def write_app_notebook(path: Path, parameters: str, *code: str, intro: str | None = None) -> Path:
    """Write the notebook at `path`: `intro` (markdown) if given, the `parameters` cell, then
    one code cell for each of `code`."""
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = ([nbformat.v4.new_markdown_cell(intro)] if intro else []) + \
        [cell, *(nbformat.v4.new_code_cell(c) for c in code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    return path


def publish_app(notebook: Path, output: Path, app_id: str, *, author: str, email: str,
                affiliation: str = "eopde tests", images: Path | None = None) -> Any:
    """Package `notebook` into `output` as `app_id` 1.0.0 and publish its image locally (into
    `images`, else the folder EOPDE_IMAGES_DIR names); the eopde.apppkg Package."""
    from eopde.apppkg.images import publish_local
    from eopde.apppkg.package import make_package

    package = make_package(notebook, output, app_id=app_id, version="1.0.0", author=author,
                           email=email, affiliation=affiliation)
    publish_local(package, images)
    return package
