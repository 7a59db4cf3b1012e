"""`eopde run`: run an application package locally, the way an ADES would."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run an application package locally (STAC stage-in, cwltool, stage-out)",
        description="Run PACKAGE (a package folder or its .cwl file) the way an ADES would: stage "
        "the STAC items in as a local catalog, run the CWL with cwltool (in a container when an "
        "engine works, else --no-container in this Python environment), check the result STAC "
        "catalog. The run folder keeps the staged inputs, the job file, run.log, the results and "
        "the executed notebook.")
    p.add_argument("package", help="package folder or CWL file")
    p.add_argument("-w", "--workflow", metavar="WORKFLOW_ID",
                   help="entry point in the $graph (default: its one Workflow)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="input value, converted to the input's CWL type; repeat for arrays "
                   "(or give a,b,c); --param list shows the inputs")
    p.add_argument("-i", "--stac-item", action="append", default=[], metavar="[INPUT=]URL",
                   help="STAC item URL or local item JSON to stage in; repeat for several; "
                   "INPUT= chooses the input when there are several")
    p.add_argument("--assets", metavar="KEYS",
                   help="comma-separated asset keys to download (default: all)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="run folder, new or empty (default: ./eopde-runs/<app>-<time>)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--no-container", action="store_true",
                       help="run the tool in this Python environment")
    group.add_argument("--container", metavar="ENGINE",
                       choices=("docker", "podman", "singularity", "apptainer"),
                       help="container engine (default: the first that works, else none)")
    p.add_argument("--timeout", type=float, help="stop cwltool after this many seconds")
    p.add_argument("--json", action="store_true",
                   help="print only the result as JSON on stdout (progress goes to stderr)")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from .layout import PackageLayoutError
    from .run import (ParameterError, RunError, load_workflow, parse_param_args,
                      parse_stac_item_args, run_package)
    from .stagein import StageInError

    # with --json, stdout is the JSON document alone: everything else goes to stderr
    human = sys.stderr if args.json else sys.stdout

    def say(message: str) -> None:
        print(message, file=human, flush=True)

    try:
        workflow = load_workflow(args.package, args.workflow)
        if args.param == ["list"]:
            print(workflow.describe())
            return 0
        params = parse_param_args(args.param)
        items = parse_stac_item_args(workflow, args.stac_item)
        engine = "none" if args.no_container else (args.container or "auto")
        assets = [a.strip() for a in args.assets.split(",") if a.strip()] if args.assets else None
        result = run_package(args.package, params, items, output=args.output, engine=engine,
                             workflow_id=args.workflow, assets=assets, progress=say,
                             timeout=args.timeout)
    except ParameterError as err:
        print(f"eopde run: {err.reason}", file=sys.stderr)
        if err.listing:
            print(err.listing, file=sys.stderr)
        return 2
    except (RunError, PackageLayoutError) as err:
        print(f"eopde run: {err}", file=sys.stderr)
        return 2
    except StageInError as err:
        print(f"eopde run: stage-in failed: {err}", file=sys.stderr)
        return 1

    t = result.timings
    if result.ok:
        say(f"Run successful in {result.seconds:.1f} s (stage-in {t.get('stage_in', 0):.1f} s, "
            f"cwltool {t.get('cwltool', 0):.1f} s of which the tool {t.get('tool', 0):.1f} s)")
        say(f"  catalog:  {result.catalog}")
        for item in result.items:
            say(f"  item {item['id']} ({item['datetime']}): {', '.join(item['assets'])}")
    else:
        print(f"Run FAILED after {result.seconds:.1f} s: {result.message}", file=sys.stderr)
        if result.log_tail:
            print("--- last lines of the log ---", file=sys.stderr)
            print(result.log_tail, file=sys.stderr)
    if result.notebook:
        say(f"  executed notebook: {result.notebook}")
    say(f"  log:      {result.log}")
    say(f"  run folder: {result.run_dir}")
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
    return 0 if result.ok else 1
