"""Where things are in an application package folder and in its container image."""

from __future__ import annotations

from pathlib import Path

#: Folder of the notebook (and anything it ships with) inside the package's container image.
#: Local runs without a container rewrite this prefix to the package folder.
APP_DIR_IN_IMAGE = "/opt/eopde/app"


class PackageLayoutError(ValueError):
    """The path is not a package folder or a CWL file; the message says what was found."""


def find_cwl(path: str | Path) -> Path:
    """The CWL document of a package: `path` itself if it is a file, else the one `*.cwl`
    file in the folder."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise PackageLayoutError(f"{path} does not exist; give a package folder or a .cwl file")
    found = sorted(path.glob("*.cwl"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise PackageLayoutError(
            f"{path} holds no .cwl file; make one with `eopde package NOTEBOOK --output {path}`")
    names = ", ".join(p.name for p in found)
    raise PackageLayoutError(f"{path} holds several .cwl files ({names}); give one of them")
