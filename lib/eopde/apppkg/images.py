"""A folder that stands in for a container image where no container engine runs.

A package's notebook lives inside its image (`layout.APP_DIR_IN_IMAGE`). On a machine without
docker or podman — this demo platform, CI — the local ADES cannot pull the image, so
`publish_local(package)` copies the package folder to `$EOPDE_IMAGES_DIR/<image ref>` and the
ADES runs the tool with cwltool --no-container against that folder. On a real platform you
build and push the image instead (`docker build -t IMAGE DIR && docker push IMAGE`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any


class ImageNotFound(LookupError):
    """No engine and no local stand-in for an image; the message says how to publish one."""


def images_dir() -> Path:
    """Where local stand-ins live: EOPDE_IMAGES_DIR, else $EOPDE_HOME/images."""
    explicit = os.environ.get("EOPDE_IMAGES_DIR")
    if explicit:
        return Path(explicit)
    from ..paths import default_home

    return default_home() / "images"


def _slug(image: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", image.strip())
    if not slug.strip("._") or slug in (".", ".."):
        raise ValueError(f"not an image reference: {image!r}")
    return slug


def image_dir(image: str, root: Path | None = None) -> Path:
    """The stand-in folder of `image` (it may not exist)."""
    return (root or images_dir()) / _slug(image)


def publish_local(package: Any, root: Path | None = None) -> Path:
    """Copy a package folder (a `Package` or a path) as the stand-in of its image."""
    from .layout import find_cwl

    if hasattr(package, "directory") and hasattr(package, "image"):
        folder, image = Path(package.directory), package.image
    else:
        folder = Path(package)
        image = docker_pull(find_cwl(folder).read_text())
        if not image:
            raise ValueError(f"{folder}: its CWL names no image (DockerRequirement.dockerPull)")
    target = image_dir(image, root)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(folder, tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def resolve(image: str, root: Path | None = None) -> Path:
    """The stand-in folder of `image`, or ImageNotFound saying how to make one."""
    folder = image_dir(image, root)
    if folder.is_dir():
        return folder
    raise ImageNotFound(
        f"no container engine here and no local stand-in for image {image!r}: publish the "
        f"package with `eopde.apppkg.images.publish_local(PACKAGE_DIR)` (it goes to {folder}), "
        "or run the ADES where docker or podman can pull the image")


def docker_pull(cwl_text: str) -> str | None:
    """The first `dockerPull` of a CWL document's tools (its app image), from the model
    (`cwlmodel.load_package`: cwlload's limits; nothing the document names is read)."""
    from .cwlmodel import load_package

    images = load_package(cwl_text).images()
    return images[0] if images else None


def stand_in_if_needed(folder: str | os.PathLike[str]) -> Path | None:
    """Without a container engine, on the local platform's machine (its state folder exists),
    publish the package folder as the stand-in of its image (what the local ADES runs); the
    stand-in's folder, else None (an engine runs the real image; or no local platform)."""
    from .package import find_engine

    folder = Path(folder)
    if not folder.is_dir() or find_engine() or not images_dir().parent.is_dir():
        return None
    return publish_local(folder)
