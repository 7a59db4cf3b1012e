"""What a package says about itself (part of :mod:`eopde.apppkg.package`): the schema.org
software metadata (OGC 20-089's `s:` terms) from the notebook, the options and git, and whether
the notebook writes its own result catalog."""

from __future__ import annotations

import datetime as _dt
import re
import subprocess
from pathlib import Path
from typing import Any

DEFAULT_LICENSE = "Apache-2.0"


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




def title_and_description(src: Path, nb, title: str | None, description: str | None,
                          warnings: list[str]) -> tuple[str, str]:
    """The title and description given, else the notebook's (first heading, first paragraph),
    else placeholders (with a warning in `warnings`)."""
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
    return title, description


def software_metadata(src: Path, *, title: str, description: str, version: str,
                      author: str | None, email: str | None, affiliation: str | None,
                      publisher: str | None, license: str | None, code_repository: str | None,
                      help_url: str | None, keywords: list[str] | None,
                      date_created: str | None, warnings: list[str]) -> dict[str, Any]:
    """The CWL document's `s:` metadata of the notebook `src`: the options given, else git's
    user and `origin` remote (of the notebook's folder), else placeholders (with warnings)."""
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
    return metadata


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

