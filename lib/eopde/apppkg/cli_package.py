"""`eopde package NOTEBOOK --output DIR`: notebook -> OGC EO Application Package.

Exit status: 0 when the package was written (and built, with --build); 1 when the notebook or the
options are wrong (nothing written), or when --build was asked and no container engine could build
the image (the package itself is written; the message gives the command to run elsewhere)."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "package", help="turn a papermill notebook into an OGC EO Application Package",
        description="Write DIR with the CWL document (<app-id>.cwl), the notebook, and a container "
                    "recipe (requirements.txt pinned to this kernel's versions + Dockerfile). "
                    "Mark EO inputs in the parameters cell with `x: StacItem = ...`, "
                    "`x: list[StacItem] = []` or `x: StacCollection = ...` (from eopde.outputs).")
    p.add_argument("notebook", help="the .ipynb notebook (with a cell tagged `parameters`)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="package folder to write")
    p.add_argument("--id", dest="app_id", help="application id (default: from the file name)")
    p.add_argument("--version", default="1.0.0", help="software version (default 1.0.0)")
    p.add_argument("--image", help="container image (default localhost/eopde/<id>:<version>)")
    p.add_argument("--title", help="title (default: the notebook's first heading)")
    p.add_argument("--description", help="abstract (default: the notebook's first paragraph)")
    p.add_argument("--author", help='"Given Family <email>" (default: git user.name/email)')
    p.add_argument("--affiliation", help="the author's organisation")
    p.add_argument("--publisher", help="publishing organisation (default: the affiliation)")
    p.add_argument("--license", help="SPDX id or URL (default Apache-2.0)")
    p.add_argument("--code-repository", help="URL (default: the git remote `origin`)")
    p.add_argument("--keyword", dest="keywords", action="append", help="repeatable")
    p.add_argument("--cores", type=int, default=1, help="CPU cores (coresMin = coresMax)")
    p.add_argument("--ram", type=int, default=2048, help="RAM in MiB (ramMin = ramMax)")
    p.add_argument("--build", action="store_true",
                   help="build the image with docker or podman (fails plainly if neither runs)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_package)


def cmd_package(args: argparse.Namespace) -> int:
    from .package import NoContainerEngine, PackageError, build_image, make_package
    from .parameters import NotebookParametersError

    try:
        pkg = make_package(
            args.notebook, args.output, app_id=args.app_id, version=args.version,
            image=args.image, title=args.title, description=args.description, author=args.author,
            affiliation=args.affiliation, publisher=args.publisher, license=args.license,
            code_repository=args.code_repository, keywords=args.keywords, cores=args.cores,
            ram=args.ram)
    except NotebookParametersError as err:
        print(f"eopde package: {args.notebook}: {err}", file=sys.stderr)
        return 1
    except (PackageError, OSError) as err:
        print(f"eopde package: {err}", file=sys.stderr)
        return 1

    built = None
    build_error = None
    if args.build:
        try:
            built = build_image(pkg, stream=sys.stderr)
        except (NoContainerEngine, RuntimeError) as err:
            build_error = str(err)

    if args.json:
        print(json.dumps({
            "app_id": pkg.app_id, "version": pkg.version, "image": pkg.image,
            "directory": str(pkg.directory), "cwl": str(pkg.cwl_path),
            "files": [str(p) for p in pkg.files],
            "parameters": [p.to_json() for p in pkg.parameters],
            "results": {"builds_catalog": pkg.builds_catalog, "how": pkg.results_note},
            "requirements": pkg.requirements.lines(), "warnings": pkg.warnings,
            "built_with": built, "build_error": build_error}, indent=1))
    else:
        print(f"Application package {pkg.app_id} {pkg.version} written to {pkg.directory}/")
        print(f"  CWL:        {pkg.cwl_path.name} (entry point #{pkg.app_id})")
        print(f"  image:      {pkg.image} (Dockerfile, requirements.txt: "
              f"{len(pkg.requirements.pinned)} pinned packages)")
        print(f"  parameters: {len(pkg.parameters)}")
        for p in pkg.parameters:
            kind = f"EO input ({p.eo})" if p.eo else ""
            name = p.name if p.input_id == p.name else f"{p.input_id} (notebook: {p.name})"
            kind = kind or ("JSON" if p.json else "")
            default = "" if not p.has_default else f" = {p.cwl_default!r}"
            print(f"    {name}: {_type_text(p.cwl_type())}{default}  {kind}  {p.label}".rstrip())
        print(f"  results:    {pkg.results_note}")
        for w in pkg.warnings:
            print(f"  warning: {w}")
        if built:
            print(f"  image built with {built}: {pkg.image}")
        print(f"Next: eopde validate {pkg.directory}")
    if build_error:
        print(f"eopde package --build: {build_error}", file=sys.stderr)
        return 1
    return 0


def _type_text(t) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return " | ".join(_type_text(x) for x in t)
    if t.get("type") == "enum":
        return "enum(" + ", ".join(t["symbols"]) + ")"
    if t.get("type") == "array":
        return _type_text(t["items"]) + "[]"
    return str(t)
