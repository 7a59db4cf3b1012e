"""`eopde validate PACKAGE_OR_CWL`: the CWL and the OGC 20-089 Best Practice rules."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "validate", help="check an application package (CWL + OGC 20-089 Best Practice)",
        description="Check an application package folder or CWL file: the CWL itself (cwltool's "
                    "loader, offline) and the OGC 20-089 Best Practice rules. Errors stop a "
                    "package from deploying or running on an ADES; warnings are Best Practice "
                    "gaps an ADES tolerates. Exit status 1 when there is an error.")
    p.add_argument("package", metavar="PACKAGE_OR_CWL", help="package folder or .cwl file")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.add_argument("--json", action="store_true",
                   help='print {"valid": bool, "findings": [{rule, severity, message, where, fix}]}')
    p.add_argument("-w", "--workflow", dest="workflow_id", metavar="WORKFLOW_ID",
                   help="the entry Workflow of a $graph holding several")
    p.set_defaults(func=cmd_validate)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate

    report = validate(args.package, strict=args.strict, workflow_id=args.workflow_id)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(format_report(report))
    return 0 if report.valid else 1


def format_report(report) -> str:
    lines = []
    for title, items in (("Errors", report.errors), ("Warnings", report.warnings)):
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        for f in items:
            message = f.message.replace("\n", "\n      ")
            lines.append(f"  [{f.rule}] {message}")
            lines.append(f"      where: {f.where}")
            if f.fix:
                lines.append(f"      fix:   {f.fix}")
        lines.append("")
    n_err, n_warn = len(report.errors), len(report.warnings)
    entry = f" (entry Workflow: {report.entry})" if report.entry else ""
    verdict = "VALID" if report.valid else "INVALID"
    lines.append(f"{verdict}: {report.source}{entry}: {n_err} error(s), {n_warn} warning(s)")
    return "\n".join(lines)
