"""`eopde validate PACKAGE_OR_CWL`: the CWL and the OGC 20-089 Best Practice rules."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "validate", help="check an application package (CWL + OGC 20-089 Best Practice)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check an application package folder or CWL file: the CWL itself (cwltool's "
                    "loader, offline) and the OGC 20-089 Best Practice rules.\n\n"
                    "  error    stops the package from deploying or running on an ADES\n"
                    "  warning  an OGC 20-089 requirement an ADES tolerates, or what breaks "
                    "another tool\n"
                    "  advice   not OGC 20-089: whose advice it is is named (never an error, "
                    "even with --strict)\n\n"
                    "Exit status 1 when there is an error. The entry point is the Workflow given "
                    "by -w, else the first Workflow of the document (as ZOO-Project-DRU, the "
                    "EOEPCA ADES, picks it).")
    p.add_argument("package", metavar="PACKAGE_OR_CWL", help="package folder or .cwl file")
    p.add_argument("--strict", action="store_true",
                   help="treat warnings as errors (a publishing gate: packages written by "
                        "`eopde package` pass it; each warning says how to fix it)")
    p.add_argument("--target", choices=("eopde", "eoepca"), default="eopde",
                   help="where the package will be deployed: eopde (default: eopde's own ADES, "
                        "which runs local images) or eoepca (a remote EOEPCA / ZOO-Project-DRU "
                        "ADES: a missing s:softwareVersion is an error, an image in a local "
                        "registry such as localhost/... a warning)")
    p.add_argument("--json", action="store_true",
                   help='print {"valid": bool, "findings": [{rule, severity, message, where, fix'
                        '[, source]}]}')
    p.add_argument("-w", "--workflow", dest="workflow_id", metavar="WORKFLOW_ID",
                   help="the entry Workflow of a $graph (default: the first Workflow)")
    p.set_defaults(func=cmd_validate)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate

    report = validate(args.package, strict=args.strict, workflow_id=args.workflow_id,
                      target=args.target)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(format_report(report))
    return 0 if report.valid else 1


def format_report(report) -> str:
    lines = []
    for title, items in (("Errors", report.errors), ("Warnings", report.warnings),
                         ("Advice", report.advice)):
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        for f in items:
            message = f.message.replace("\n", "\n      ")
            lines.append(f"  [{f.rule}] {message}")
            lines.append(f"      where: {f.where}")
            if f.fix:
                lines.append(f"      fix:   {f.fix}")
            if f.source:
                lines.append(f"      from:  {f.source}")
        lines.append("")
    n_err, n_warn, n_adv = len(report.errors), len(report.warnings), len(report.advice)
    entry = f" (entry Workflow: {report.entry})" if report.entry else ""
    verdict = "VALID" if report.valid else "INVALID"
    lines.append(f"{verdict}: {report.source}{entry}: {n_err} error(s), {n_warn} warning(s), "
                 f"{n_adv} advice")
    return "\n".join(lines)
