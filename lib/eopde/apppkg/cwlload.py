"""Loading user CWL (and other user YAML/JSON) safely: the document itself and nothing else.

Every CWL that eopde reads for validate, package, run, deploy and describe goes through
`load_cwl` (or `load_yaml` + `find_references`), and every in-process cwltool load through
`cwltool_check`, so that:

- nothing but the document is read: `$include`, `$import`, `$mixin`, a `run:` that is not an
  in-document `#id` (or an inline process), a local `$schemas` entry and a File/Directory literal
  pointing at a local path are refused with a `LoadError` naming the key and where it is (never
  the target's content); and cwltool/schema_salad get a fetcher that serves the document from
  memory and refuses every other URL, so a reference we do not recognise still reads nothing;
- a parse costs bounded time and memory: a size limit, and a streaming pre-scan (libyaml events,
  no tree built) that counts aliases, the nodes the aliases expand to and the nesting depth, so a
  "billion laughs" is refused in milliseconds, before any tree is built or walked;
- errors are clean: no file contents, no server paths (the in-memory document has a made-up URL).

`loads_json` is the same for JSON request bodies (too deep: a 4xx-style error, not a
RecursionError).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: Largest CWL / YAML user document (bytes of UTF-8). Real packages are 2-20 KB.
MAX_BYTES = 512 * 1024
#: Deepest nesting of mappings/sequences. A CWL document is rarely deeper than 15.
MAX_DEPTH = 64
#: Alias (`*name`) uses per document; CWL documents use a handful, if any.
MAX_ALIASES = 200
#: Nodes (scalars, mappings, sequences) once every alias is expanded. Real packages have 150-500;
#: cwltool's loader is quadratic in them (deep copies of ruamel trees): 5,600 nodes take 1.7 s,
#: 11,000 take 5 s, 28,000 take 35 s of CPU on one core.
MAX_NODES = 10_000
#: The URL the document is served under to cwltool (no server path appears in messages).
MEMORY_BASE = "file:///eopde-memory/"

DIRECTIVES = ("$include", "$import", "$mixin")
_REMOTE = re.compile(r"^https?://", re.I)


class LoadError(ValueError):
    """The document cannot be loaded: not YAML/JSON, over a limit, or it refers outside itself.
    `str()` says what is wrong and how to fix it; `rule`, `where` and `line` say which check and
    where (for validation findings)."""

    def __init__(self, message: str, *, rule: str = "cwl/yaml", where: str = "document",
                 line: int | None = None, fix: str = ""):
        super().__init__(message)
        self.message, self.rule, self.where, self.line, self.fix = message, rule, where, line, fix


@dataclass
class Reference:
    """Something in the document that would make a loader read outside it."""

    key: str
    target: str
    where: str
    line: int | None

    def message(self, line: bool = True) -> str:
        at = f"{self.where} (line {self.line})" if self.line and line else self.where
        return (f"`{self.key}` at {at} refers outside the document ({_show(self.target)}); "
                "a CWL document is loaded on its own and nothing it names is read")

    def fix(self) -> str:
        if self.key == "run":
            return ("put the tool in this document's $graph and use `run: '#tool-id'` "
                    "(`cwltool --pack` does it)")
        if self.key == "$schemas":
            return "drop $schemas or name https:// schemas only (they are never fetched)"
        if self.key == "location":
            return ("give the File/Directory as a job input instead of a literal in the CWL, or "
                    "write its `contents` inline")
        return (f"replace `{self.key}` by the content itself (types inline in "
                "SchemaDefRequirement, tools in $graph); `cwltool --pack` inlines most")


# --------------------------------------------------------------------------- text limits


def _show(target: str, limit: int = 80) -> str:
    """The user's own reference, shortened and on one line (never anything read)."""
    t = " ".join(str(target).split())
    return repr(t[:limit] + ("..." if len(t) > limit else ""))


def _size_check(text: str, what: str, max_bytes: int) -> None:
    if len(text) > max_bytes or len(text.encode("utf-8", "replace")) > max_bytes:
        raise LoadError(f"{what} is larger than {max_bytes // 1024} KiB; a CWL document or a set "
                        "of inputs is much smaller: remove embedded data", rule="eopde/too-large",
                        fix=f"keep the document under {max_bytes // 1024} KiB")


def scan_yaml(text: str, what: str = "the document", *, max_depth: int = MAX_DEPTH,
              max_aliases: int = MAX_ALIASES, max_nodes: int = MAX_NODES) -> int:
    """Stream the YAML events (libyaml, no tree built) and refuse a document nesting deeper than
    `max_depth`, using more than `max_aliases` aliases, expanding to more than `max_nodes` nodes
    or with a recursive alias. Returns the expanded node count."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sizes: dict[str, int] = {}  # anchor -> nodes of its (expanded) subtree
    stack: list[list] = []  # [nodes so far, anchor, start event] per open collection
    total = aliases = 0

    def add(n: int) -> None:
        nonlocal total
        total += n
        if stack:
            stack[-1][0] += n

    try:
        for ev in yaml.parse(text, Loader=loader):
            if isinstance(ev, yaml.CollectionStartEvent):
                if len(stack) >= max_depth:
                    raise _limit(f"{what} nests deeper than {max_depth} levels", ev,
                                 "flatten the structure")
                stack.append([1, ev.anchor, ev])
            elif isinstance(ev, yaml.CollectionEndEvent):
                n, anchor, _ = stack.pop()
                total += 1
                if stack:
                    stack[-1][0] += n
                if anchor:
                    sizes[anchor] = n
            elif isinstance(ev, yaml.ScalarEvent):
                add(1)
                if ev.anchor:
                    sizes[ev.anchor] = 1
            elif isinstance(ev, yaml.AliasEvent):
                aliases += 1
                if aliases > max_aliases:
                    raise _limit(f"{what} uses more than {max_aliases} YAML aliases", ev,
                                 "write the repeated parts out instead of `*alias`")
                if ev.anchor not in sizes:
                    raise _limit(f"{what} has a recursive or undefined YAML alias "
                                 f"*{str(ev.anchor)[:40]}", ev, "remove the alias")
                add(sizes[ev.anchor])
            if total > max_nodes:
                raise _limit(f"{what} expands to more than {max_nodes} nodes (YAML aliases "
                             "repeating large parts, or a very large document)", ev,
                             "write the document without nested `*alias` repetitions")
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(x) for x in (err.context, err.problem) if x)
        raise LoadError(f"{what} is not valid YAML: {problem}" + (f" (line {line})" if line
                                                                  else ""),
                        where=f"line {line}" if line else "document", line=line,
                        fix="fix the YAML syntax (indentation, quotes, ':' in values)") from None
    except yaml.YAMLError as err:
        raise LoadError(f"{what} is not valid YAML: {_one_line(err)}",
                        fix="fix the YAML syntax") from None
    return total


def _limit(message: str, ev, fix: str) -> LoadError:
    line = ev.start_mark.line + 1 if getattr(ev, "start_mark", None) is not None else None
    return LoadError(message + (f" (line {line})" if line else ""), rule="eopde/yaml-limits",
                     where=f"line {line}" if line else "document", line=line, fix=fix)


def _one_line(err: BaseException, limit: int = 300) -> str:
    return " ".join(str(err).split())[:limit]


# --------------------------------------------------------------------------- parsing


def load_yaml(text: str | bytes, what: str = "the document", *, roundtrip: bool = False,
              max_bytes: int = MAX_BYTES) -> Any:
    """Parse user YAML (or JSON) within the limits with ruamel.yaml, the library cwltool reads
    CWL with (YAML 1.2: `yes`/`on` are strings, as cwltool reads them): plain Python objects
    (its safe loader), or with `roundtrip=True` its round-trip tree (line numbers kept). The
    limits are checked first by a libyaml event scan (`scan_yaml`), before any tree is built."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise LoadError(f"{what} is not UTF-8 text", fix="send it as UTF-8") from None
    _size_check(text, what, max_bytes)
    if not roundtrip and text.lstrip()[:1] in ("{", "["):
        try:
            return loads_json(text, what, max_bytes=max_bytes, max_nodes=MAX_NODES)
        except LoadError as err:
            if err.rule != "cwl/yaml":
                raise  # too deep / too large: YAML would be no better
    scan_yaml(text, what)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt" if roundtrip else "safe", pure=True).load(text)
    except (YAMLError, ValueError) as err:  # the pre-scan passed: rare (YAML 1.2 details,
        # a duplicate key)
        raise LoadError(f"{what} is not valid YAML: {_one_line(err)}",
                        fix="fix the YAML syntax") from None


def loads_json(text: str | bytes, what: str = "the body", *, max_bytes: int | None = None,
               max_depth: int = MAX_DEPTH, max_nodes: int | None = None) -> Any:
    """`json.loads` for user text that refuses deep nesting (instead of a RecursionError) and,
    when given, more than `max_bytes` or `max_nodes`. Every refusal is a `LoadError` (a
    ValueError): rule `cwl/yaml` for bad JSON, `eopde/json-limits` for a limit."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if max_bytes is not None:
        _size_check(text, what, max_bytes)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise LoadError(f"{what} nests deeper than {max_depth} levels", rule="eopde/json-limits",
                        fix="flatten the structure") from None
    except json.JSONDecodeError as err:
        raise LoadError(f"{what} is not valid JSON: {err}", fix="fix the JSON syntax") from None
    over = _over(doc, max_depth, max_nodes)
    if over:
        raise LoadError(f"{what} {over}", rule="eopde/json-limits",
                        fix="flatten the structure" if "deeper" in over else "make it smaller")
    return doc


def _over(doc: Any, max_depth: int, max_nodes: int | None) -> str | None:
    """Which limit `doc` passes, if any (iterative: no recursion on hostile input)."""
    todo = [(doc, 1)] if isinstance(doc, (dict, list)) else []
    nodes = 0
    while todo:
        node, depth = todo.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > max_depth:
            return f"nests deeper than {max_depth} levels"
        nodes += 1 + len(children)
        if max_nodes is not None and nodes > max_nodes:
            return f"has more than {max_nodes} nodes"
        todo.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return None


# --------------------------------------------------------------------------- references


def line_of(container, key) -> int | None:
    """1-based line of `key` in a ruamel container, or None."""
    try:
        lc = getattr(container, "lc")  # only ruamel's round-trip containers have it
        return (lc.key(key) if isinstance(container, dict) else lc.item(key))[0] + 1
    except Exception:
        return None


def find_references(doc: Any) -> list[Reference]:
    """Everything in a parsed CWL document that would make a loader read outside it:
    `$include`/`$import`/`$mixin` anywhere, `run:` not an in-document `#id` or inline process,
    `$schemas` entries that are not https:// URLs, and File/Directory literals whose
    `location`/`path` is not an http(s) URL. Iterative, so safe on any depth."""
    found: list[Reference] = []
    todo: list[tuple[Any, str]] = [(doc, "")]
    while todo:
        node, where = todo.pop()
        if isinstance(node, dict):
            literal = node.get("class") in ("File", "Directory")
            for key, value in node.items():
                k = str(key)
                here = f"{where}/{k}" if where else k
                if k in DIRECTIVES:
                    found.append(Reference(k, _target(value), where or "the document root",
                                           line_of(node, key)))
                elif k == "run" and isinstance(value, str) and not value.startswith("#"):
                    found.append(Reference(k, value, here, line_of(node, key)))
                elif k == "$schemas":
                    for s in value if isinstance(value, list) else [value]:
                        if not (isinstance(s, str) and _REMOTE.match(s)):
                            found.append(Reference(k, _target(s), here, line_of(node, key)))
                elif literal and k in ("location", "path") and not (
                        isinstance(value, str) and _REMOTE.match(value)):
                    found.append(Reference("location", _target(value), here, line_of(node, key)))
                if isinstance(value, (dict, list)):
                    todo.append((value, here))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, (dict, list)):
                    todo.append((value, f"{where}[{_item_name(value, i)}]"))
    found.sort(key=lambda r: (r.line or 0, r.where))
    return found


def _target(value: Any) -> str:
    return value if isinstance(value, str) else type(value).__name__


def _item_name(value: Any, i: int) -> str:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"].lstrip("#")[:60]
    return str(i)


def refuse_references(doc: Any, what: str = "the CWL") -> None:
    """Raise a LoadError naming the first references (key and where) found in `doc`."""
    refs = find_references(doc)
    if not refs:
        return
    first = refs[0]
    more = f" (and {len(refs) - 1} more: " + ", ".join(
        f"`{r.key}` at {r.where}" for r in refs[1:4]) + (", ..." if len(refs) > 4 else "") + ")" \
        if len(refs) > 1 else ""
    raise LoadError(f"{what}: " + first.message() + more, rule="eopde/external-reference",
                    where=first.where, line=first.line, fix=first.fix())


def load_cwl(text: str | bytes, what: str = "the CWL", *, roundtrip: bool = False,
             max_bytes: int = MAX_BYTES) -> dict:
    """Parse a CWL document within the limits and refuse it when it refers outside itself.
    Returns the mapping (plain, or ruamel's round-trip tree with `roundtrip=True`)."""
    doc = load_yaml(text, what, roundtrip=roundtrip, max_bytes=max_bytes)
    if not isinstance(doc, dict):
        raise LoadError(f"{what} is not a mapping (got {type(doc).__name__})",
                        rule="cwl/not-cwl", fix="a CWL document is a mapping with `cwlVersion`")
    refuse_references(doc, what)
    return doc


def check_job_values(values: Any, what: str = "the inputs") -> None:
    """Refuse job (input) values holding `$include`/`$import`/`$mixin` keys: cwltool resolves
    them in a job file, which would read a file or URL named by the user."""
    todo = [(values, "")]
    while todo:
        node, where = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}.{key}" if where else str(key)
                if str(key) in DIRECTIVES or str(key).startswith("cwl:") \
                        or str(key).startswith("http://commonwl.org/cwltool#"):
                    raise LoadError(f"{what}: `{key}` at {where or 'the top'} is not allowed in "
                                    "an input value (it would make the runner read a file or "
                                    "change the tool)", rule="eopde/external-reference",
                                    where=here, fix="give the value itself")
                todo.append((value, here))
        elif isinstance(node, (list, tuple)):
            todo.extend((v, f"{where}[{i}]") for i, v in enumerate(node))


# --------------------------------------------------------------------------- cwltool, in memory


def memory_fetcher(docs: dict[str, str]):
    """A schema_salad fetcher constructor serving `docs` ({url: text}) and refusing any other
    URL (file, http, anything): `LoadingContext(fetcher_constructor=memory_fetcher(...))`."""
    from schema_salad.exceptions import ValidationException
    from schema_salad.fetcher import DefaultFetcher

    class MemoryFetcher(DefaultFetcher):
        def fetch_text(self, url: str, content_types=None) -> str:
            key = url.split("#", 1)[0]
            if key in docs:
                return docs[key]
            raise ValidationException(f"{_show(url)} was not read: a CWL document is loaded on "
                                      "its own (refer to its parts by '#id')")

        def check_exists(self, url: str) -> bool:
            return url.split("#", 1)[0] in docs

    return lambda cache, session: MemoryFetcher({}, None)


def cwltool_check(text: str, name: str = "package.cwl", fragment: str | None = None) -> str | None:
    """Load and validate `text` like `cwltool --validate`, in-process, from memory only (nothing
    else is fetched; `$schemas` skipped). None when it passes, else cwltool's message, with the
    in-memory URL replaced by `name`."""
    try:
        from cwltool.context import LoadingContext
        from cwltool.load_tool import fetch_document, make_tool, resolve_and_validate_document
        from cwltool.workflow import default_make_tool
        from schema_salad.exceptions import ValidationException
    except ImportError as err:  # pragma: no cover
        return f"cwltool is not installed ({err})"
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "package.cwl"
    ctx = LoadingContext({"construct_tool_object": default_make_tool, "skip_schemas": True,
                          "fetcher_constructor": memory_fetcher({MEMORY_BASE + safe: text}),
                          "do_validate": True, "strict": True})
    try:
        ctx, workflowobj, uri = fetch_document(MEMORY_BASE + safe, ctx)
        ctx, uri = resolve_and_validate_document(ctx, workflowobj, uri)
        if "$graph" in workflowobj and fragment is None:
            return None  # no entry point to build (reported elsewhere); the schema check passed
        target = uri if fragment is None or "#" in uri else f"{uri}#{fragment}"
        make_tool(target, ctx)
    except ValidationException as err:
        message = str(err)
    except RecursionError:
        message = "the document nests too deeply for cwltool"
    except Exception as err:  # cwltool raises many kinds
        message = f"{type(err).__name__}: {err}"
    else:
        return None
    # salad shows the URL as is or relative to the working directory (../../eopde-memory/x)
    message = re.sub(r"(?:file://)?(?:\.\./)*/?eopde-memory/", "", message)
    return message.replace(safe, name) if safe != name else message

