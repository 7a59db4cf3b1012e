"""The per-process rules of `validate`: tools (container, image, resources), steps (what they
run, stage-in/out), and the entry Workflow (title, abstract, inputs, staging, outputs).

Severities follow `validate`'s docstring: OGC 20-089 requirements cite their `req-N`; what is
only advice says whose (`source`)."""

from __future__ import annotations

import re
from typing import Any

from .cwlload import line_of
from .cwlmodel import entries, frag, parse_type, short_id
from .validate import ADVICE, ERROR, WARNING

#: Names / labels / docs that say "this input is a STAC item, several items or a catalog".
STAC_WORDS = re.compile(
    r"stac|catalog|(^|[^a-z])items?([^a-z]|$)|product|scene|input[_ -]?reference", re.I)
STAGE_STEP = re.compile(r"(^|[^a-z])stage[_ -]?(in|out)([^a-z]|$)|stagein|stageout", re.I)
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
LOCAL_REGISTRY = re.compile(r"^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$", re.I)
_MAX_DEPTH = 20
EOAP_PROFILE = "eoap-validator (eoap-package profile: Calrissian schedules on the four values)"
PINNING = "reproducibility (Terradue FAIR guide: images pinned by digest)"


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else (
        "" if value is None else str(value).strip())


def sources(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def type_names(spec: dict) -> set[str]:
    return parse_type(spec.get("type", spec.get("_value"))).names()


def registry_of(image: str) -> str | None:
    """The registry host of an image reference, None for a short name (Docker Hub)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first.lower() == "localhost"):
        return first
    return None


class ProcessRules:
    """Mixed into `validate_checks.Checker` (which provides add, doc, processes, resolve_run,
    where, entry_id, target)."""

    add: Any
    doc: dict
    processes: dict
    resolve_run: Any
    where: Any
    entry_id: str | None
    target: str

    # ---------------------------------------------------------------- per-process rules
    def process_rules(self, pid: str, proc: dict, where: str) -> None:
        cls = proc.get("class")
        line = proc.lc.line + 1 if hasattr(proc, "lc") and proc.lc.line is not None else None
        if pid and short_id(pid) == "main" and cls in ("Workflow", "CommandLineTool",
                                                         "ExpressionTool"):
            self.add("eopde/main-id", ADVICE,
                     f"a {cls} with id 'main' is valid CWL and ZOO-Project-DRU deploys it (the "
                     "process is then called `main`), but it clashes with wrappers that name "
                     "their own workflow `main` (cwl-wrapper, eoap-cwlwrap)", where,
                     "give it a meaningful id (the application id, e.g. `ndvi`); after "
                     "`cwltool --pack`, rename `#main`", line,
                     "eoap-validator (eoap-package profile), cwl-wrapper")
        if cls == "Workflow":
            for sid, step, sline in entries(proc.get("steps")):
                self.step_rules(pid, proc, sid, step, sline, where)
        if cls != "CommandLineTool":
            return
        self.container_rules(proc, where, line)
        if "baseCommand" not in proc and "arguments" not in proc:
            self.add("OGC-20-089/req-8", WARNING, "CommandLineTool without baseCommand", where,
                     "set baseCommand (e.g. `papermill`)", line)
        self.resource_rules(proc, where, line)
        if STAGE_STEP.search(pid or ""):
            self.add("eopde/stage-steps", ERROR,
                     f"the package holds a stage-in/stage-out tool ({pid}); the platform adds "
                     "these itself", where,
                     "remove it: take the staged Directory as input and write the STAC catalog "
                     "into the output Directory", line)

    def container_rules(self, proc: dict, where: str, line) -> None:
        from .cwlmodel import requirement_list

        docker = [r for r in requirement_list(proc) if r.cls == "DockerRequirement"]
        if not docker:
            self.add("OGC-20-089/req-8", ERROR,
                     "CommandLineTool without a container: no DockerRequirement in requirements "
                     "or hints, so an ADES has no image to run", where,
                     "add `requirements: {DockerRequirement: {dockerPull: "
                     "registry/image@sha256:...}}`",
                     line)
            return
        req = docker[0]
        if req.hint:
            self.add("OGC-20-089/req-8", WARNING,
                     "DockerRequirement is only a hint; OGC 20-089 wants it under requirements "
                     "(cwltool and Calrissian use the hint, another runner may ignore it)", where,
                     "move DockerRequirement from hints to requirements", req.line)
        pull = text_of(req.body.get("dockerPull") or req.body.get("dockerImageId"))
        if not pull:
            self.add("OGC-20-089/req-8", ERROR,
                     "DockerRequirement without dockerPull: an ADES cannot fetch the image "
                     "from a registry", where, "set dockerPull to the pushed image", req.line)
        else:
            self.image_rules(pull, where, req.line)

    def step_rules(self, pid, proc, sid, step, sline, where) -> None:
        swhere = f"{where} > step {sid}"
        run = step.get("run")
        if STAGE_STEP.search(sid) or (isinstance(run, str) and STAGE_STEP.search(frag(run))):
            self.add("eopde/stage-steps", ERROR,
                     f"step {sid} stages data in or out; the platform adds stage-in/stage-out "
                     "steps itself, so the package must not", swhere,
                     "remove the step and wire the Workflow input/output Directories directly",
                     sline)
        if not isinstance(run, str):  # absent or inline
            return
        if REMOTE.match(run) and not run.startswith("file:"):
            self.add("eopde/step-run", ERROR,
                     f"step {sid} runs {run}, a remote document: the ADES receives only this "
                     "document", swhere, "put the tool in this document's $graph", sline)
        elif not run.startswith("#"):
            self.add("eopde/step-run", ERROR,
                     f"step {sid} runs {run}, a file outside the document: an ADES receives "
                     "only the CWL document", swhere,
                     "pack it into the document (`cwltool --pack`, then rename #main) or add the "
                     "tool to $graph and use `run: '#tool-id'`", sline)
        elif self.resolve_run(run) is None:
            self.add("eopde/step-run", ERROR,
                     f"step {sid} runs {run}, which is not in the document (ids: "
                     + ", ".join(sorted(self.processes)) + ")", swhere,
                     "fix the reference or add the process to $graph", sline)

    def image_rules(self, pull: str, where: str, line) -> None:
        registry = registry_of(pull)
        if registry is not None and LOCAL_REGISTRY.match(registry):
            remote = self.target == "eoepca"
            self.add("eopde/image-registry", WARNING if remote else ADVICE,
                     f"image {pull} is in a local registry ({registry}): eopde's own ADES runs "
                     "it, but no remote ADES (EOEPCA, ZOO-Project-DRU on Kubernetes) can pull it",
                     where, "push the image to a registry the ADES can reach (ghcr.io, quay.io, "
                     "docker.io, your platform's) and re-package with `eopde package --image "
                     "REGISTRY/NAME:TAG`", line,
                     "" if remote else "eopde (matters only for a remote ADES: --target eoepca)")
        if "@sha256:" in pull or "@sha512:" in pull:
            return
        name = pull.rsplit("/", 1)[-1]
        tag = name.split(":", 1)[1] if ":" in name else ""
        if tag in ("", "latest"):
            self.add("eopde/docker-tag", ADVICE,
                     f"image {pull} is {'latest' if tag else 'untagged (= latest)'}: every run "
                     "may get a different image", where,
                     "pin a version tag, better a digest (image@sha256:...)", line, PINNING)
        else:
            self.add("eopde/docker-digest", ADVICE,
                     f"image {pull} is pinned by tag only; a tag can be pushed again",
                     where, "pin the digest: image:tag@sha256:... (`docker inspect "
                            "--format '{{index .RepoDigests 0}}' IMAGE`)", line, PINNING)

    def resource_rules(self, proc: dict, where: str, line) -> None:
        """Only no ResourceRequirement at all is said (advice): CWL takes a lone min as the max
        and a lone max as the min, so one of each pair is enough."""
        from .cwlmodel import requirement_list

        holders = [proc] + [p for p in self.processes.values() if p.get("class") == "Workflow"]
        if any(r.cls == "ResourceRequirement" for h in holders for r in requirement_list(h)):
            return
        self.add("eopde/resources", ADVICE,
                 "no ResourceRequirement: the platform sizes the job with its defaults", where,
                 "add `ResourceRequirement: {coresMin: 1, coresMax: 2, ramMin: 2048, "
                 "ramMax: 4096}` to the tool's requirements", line, EOAP_PROFILE)

    # ---------------------------------------------------------------- entry Workflow rules
    def workflow_rules(self, wf: dict) -> None:
        wid = self.entry_id or ""
        where = self.where(wid, wf)
        line = wf.lc.line + 1 if hasattr(wf, "lc") and wf.lc.line is not None else None
        if not text_of(wf.get("id")) and "$graph" not in self.doc:
            self.add("eopde/workflow-id", ERROR,
                     "the Workflow has no id; the ADES makes its process id from it", where,
                     "give the Workflow an id (the application id)", line)
        for key, what in (("label", "title"), ("doc", "abstract")):
            if not text_of(wf.get(key)):
                self.add("OGC-20-089/req-9", WARNING,
                         f"the Workflow has {'an empty' if key in wf else 'no'} `{key}` (the "
                         f"process {what} in the ADES)", where,
                         f"write a non-empty `{key}`", line_of(wf, key) or line)
        for iid, spec, iline in entries(wf.get("inputs")):
            iwhere = f"{where} > input {iid}"
            for key in ("label", "doc"):
                if not text_of(spec.get(key)):
                    self.add("OGC-20-089/req-10", WARNING,
                             f"input {iid} has {'an empty' if key in spec else 'no'} `{key}`",
                             iwhere, f"write a non-empty `{key}` for {iid} (shown in the "
                             "process description and the execute form)", iline)
            self.staging_rules(wf, iid, spec, iwhere, iline)
        self.output_rules(wf, where, line)

    def staging_rules(self, wf, iid, spec, where, line) -> None:
        names = type_names(spec)
        if "Directory" in names:
            return
        if self.needs_directory(wf, iid, 0):
            self.add("OGC-20-089/req-13", ERROR,
                     f"input {iid} is {sorted(names) or '?'} but a tool reads it as a Directory: "
                     "the platform stages EO data in as a Directory holding catalog.json", where,
                     f"type {iid} as Directory (Directory[] for several items)", line)
            return
        words = " ".join(text_of(spec.get(k)) for k in ("label", "doc")) + " " + iid
        if not STAC_WORDS.search(words):
            return
        if names & {"File"}:
            self.add("OGC-20-089/req-13", ERROR,
                     f"input {iid} looks like a STAC item/catalog but is a File: the platform "
                     "stages STAC inputs in as a Directory holding catalog.json", where,
                     f"type {iid} as Directory and read <dir>/catalog.json", line)
        elif names & {"string", "Any"} or not names:
            self.add("eopde/stac-input-not-staged", ADVICE,
                     f"input {iid} looks like a STAC reference but is a "
                     f"{'/'.join(sorted(names)) or '?'}: the platform will not stage it in, so "
                     "the application must read it remotely (the 'cloud-native' style)", where,
                     f"if the application reads local files, type {iid} as Directory", line,
                     "OGC 20-089 stage-in (app-stage-in) vs eoap's cloud-native packages")

    def needs_directory(self, proc: dict, input_id: str, depth: int) -> bool:
        """Does some tool behind `proc`'s input `input_id` take it as a Directory?"""
        if depth > _MAX_DEPTH:
            return False
        if proc.get("class") != "Workflow":
            for iid, spec, _ in entries(proc.get("inputs")):
                if iid == input_id:
                    return "Directory" in type_names(spec)
            return False
        if depth > 0:
            for iid, spec, _ in entries(proc.get("inputs")):
                if iid == input_id and "Directory" in type_names(spec):
                    return True
        for _, step, _ in entries(proc.get("steps")):
            target = self.resolve_run(step.get("run"))
            if target is None:
                continue
            for sink, spec, _ in entries(step.get("in"), id_field="id"):
                srcs = sources(spec.get("source", spec.get("_value")))
                wid = frag(proc.get("id", ""))
                # `x` or, packed, `#wf/x`; `step/out` is another step's output
                if any(frag(s).lstrip("#") in (input_id, f"{wid}/{input_id}") for s in srcs):
                    if "valueFrom" in spec:
                        continue
                    if self.needs_directory(target, sink, depth + 1):
                        return True
        return False

    def output_rules(self, wf: dict, where: str, line) -> None:
        dirs = [(oid, spec, oline) for oid, spec, oline in entries(wf.get("outputs"))
                if "Directory" in type_names(spec)]
        if not dirs:
            self.add("OGC-20-089/req-14", WARNING,
                     "no Directory output: the platform stages out a Directory holding a STAC "
                     "catalog.json", where, "add an output `type: Directory` fed by the tool's "
                     "`outputBinding: {glob: .}` output", line)
        for oid, spec, oline in dirs:
            for src in sources(spec.get("outputSource")):
                self.check_glob(wf, src, f"{where} > output {oid}", oline, 0)

    def check_glob(self, wf: dict, src: str, where: str, line, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        parts = frag(src).split("/")
        if len(parts) < 2:
            return
        step_id, out_id = parts[-2], parts[-1]
        step = next((s for sid, s, _ in entries(wf.get("steps")) if sid == step_id), None)
        target = self.resolve_run(step.get("run")) if step else None
        if target is None:
            return
        for oid, spec, oline in entries(target.get("outputs")):
            if oid != out_id:
                continue
            if target.get("class") == "Workflow":
                for s in sources(spec.get("outputSource")):
                    self.check_glob(target, s, where, line, depth + 1)
            elif target.get("class") == "CommandLineTool":
                binding = spec.get("outputBinding")
                globs = sources(binding.get("glob")) if isinstance(binding, dict) else []
                if not any(g.strip() in (".", "./", "$(runtime.outdir)") for g in globs):
                    tid = frag(target.get("id", ""))
                    self.add("OGC-20-089/req-14", WARNING,
                             f"the result Directory comes from {tid}/{oid}, whose outputBinding "
                             f"glob is {globs or 'missing'}, not `.`: files written elsewhere in "
                             "the working directory are not staged out", where,
                             f"set `outputBinding: {{glob: .}}` on {tid}/{oid}", oline or line)
