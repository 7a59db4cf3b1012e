"""Benchmark: the local ADES (OGC API - Processes) against bare `cwltool --no-container` on the
same CWL and inputs, same run; deploy/execute latency, status polling under load, a burst of jobs.

    .venv/bin/python bench/ades.py [--runs N] [--jobs N] [--workers N] [--seconds S] ...

Starts a throw-away local platform (ports from EOPDE_BENCH_BASE_PORT, default 19900; the ADES with
EOPDE_ADES_WORKERS=--workers, default 2), gets a hub token for the user `bench`, builds two
packages in a temporary folder and publishes their local image stand-ins (`publish_local` into
<home>/images, which the ADES reads — no container engine is used anywhere):

- `sleeper`: a notebook packaged with `make_package` (parameter `seconds: float = 10.0`); it
  sleeps, writes an 8x8 GeoTIFF with rasterio and saves it with `eopde.outputs.save`;
- `quick`: a plain CWL tool without papermill (a 30-line Python script that sleeps `seconds` and
  writes a one-item STAC catalog), for the burst, where the notebook's start-up would dominate
  (`--short-tool notebook` uses the sleeper instead).

Then prints:

1. job overhead: the sleeper through the ADES (execute -> `Job.wait`, polling every 0.2 s)
   against `cwltool --no-container` as a subprocess on `write_no_container_copy` of the same CWL
   with the same input (venv's bin first on PATH); medians of N runs each, interleaved; the ratio
   (aim: at most 1.15) and the absolute overhead in seconds; plus the server's own view of a job
   (created -> started -> finished);
2. deploy latency (median of --deploys deploy + undeploy cycles, ms, each half apart) and
   execute-to-accepted latency (POST .../execution -> 201, median of --accepts, ms; those jobs
   are dismissed right away);
3. status polling: --pollers threads, each with its own httpx client, hitting GET /jobs/{id} of
   a running job for --poll-seconds: median and p99 ms, requests/s, errors;
4. burst: --jobs executions of the short tool submitted at once (20 submitting threads) on
   --workers workers: successful / failed / lost (every job id accounted for, also in GET /jobs),
   total wall time from the first POST to the last final status, against the sum of bare runs
   (jobs x one bare `cwltool` run of the same tool, measured here) and against sum / workers.

Everything is bounded by timeouts; timing figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _platform import BIN, eopde, platform_env  # noqa: E402

USER = "bench"

PARAMS = "seconds: float = 10.0  # how long to work\n"

BODY = '''import time

import numpy as np
import rasterio
from rasterio.transform import from_origin

from eopde import outputs

time.sleep(seconds)
data = np.arange(64, dtype="float32").reshape(8, 8)
with rasterio.open("result.tif", "w", driver="GTiff", width=8, height=8, count=1,
                   dtype="float32", crs="EPSG:4326",
                   transform=from_origin(12.0, 43.3, 0.01, 0.01)) as dst:
    dst.write(data, 1)
outputs.save("result.tif", id="slept", properties={"bench:seconds": seconds})
print(f"slept {seconds} s")
'''

QUICK_SCRIPT = '''"""Sleep argv[1] seconds, then write a one-item STAC catalog here."""
import datetime
import json
import sys
import time
from pathlib import Path

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
time.sleep(seconds)
out = Path.cwd()
(out / "quick").mkdir(exist_ok=True)
(out / "quick" / "data.json").write_text(json.dumps({"slept": seconds}))
ring = [[12.0, 43.2], [12.1, 43.2], [12.1, 43.3], [12.0, 43.3], [12.0, 43.2]]
item = {"type": "Feature", "stac_version": "1.0.0", "id": "quick",
        "geometry": {"type": "Polygon", "coordinates": [ring]}, "bbox": [12.0, 43.2, 12.1, 43.3],
        "properties": {"datetime": datetime.datetime.now(datetime.timezone.utc)
                       .strftime("%Y-%m-%dT%H:%M:%SZ"), "bench:seconds": seconds},
        "links": [{"rel": "root", "href": "../catalog.json", "type": "application/json"},
                  {"rel": "parent", "href": "../catalog.json", "type": "application/json"}],
        "assets": {"data": {"href": "./data.json", "type": "application/json",
                            "roles": ["data"]}}}
(out / "quick" / "quick.json").write_text(json.dumps(item))
catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": "results",
           "description": "quick results",
           "links": [{"rel": "root", "href": "./catalog.json", "type": "application/json"},
                     {"rel": "item", "href": "./quick/quick.json",
                      "type": "application/json"}]}
(out / "catalog.json").write_text(json.dumps(catalog))
'''

QUICK_CWL = '''cwlVersion: v1.2
$namespaces:
  s: https://schema.org/
s:name: Quick
s:softwareVersion: 1.0.0
$graph:
- class: Workflow
  id: quick
  label: Quick
  doc: Sleeps a little, then writes a one-item STAC catalog (no papermill).
  inputs:
    seconds:
      type: double
      label: how long to work
      doc: how long to work
      default: 0.5
  outputs:
    results:
      type: Directory
      outputSource: step/results
  steps:
    step:
      run: '#quick-tool'
      in:
        seconds: seconds
      out:
      - results
- class: CommandLineTool
  id: quick-tool
  baseCommand:
  - python
  - /opt/eopde/app/quick.py
  inputs:
    seconds:
      type: double
      inputBinding:
        position: 1
  outputs:
    results:
      type: Directory
      outputBinding:
        glob: .
  requirements:
    DockerRequirement:
      dockerPull: localhost/eopde/quick:1.0.0
    ResourceRequirement:
      coresMin: 1
      coresMax: 1
      ramMin: 256
'''


# ----------------------------------------------------------------------------- helpers

def make_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "# Sleeper\n\nWorks (sleeps) for a while, then writes a tiny GeoTIFF."))
    nb.cells.append(nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(BODY))
    nbformat.write(nb, str(path))
    return path


def make_quick(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "quick.cwl").write_text(QUICK_CWL)
    (folder / "quick.py").write_text(QUICK_SCRIPT)
    return folder


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def parse_time(value: str | None):
    import datetime as dt

    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@contextmanager
def running_platform(base_port: int, workers: int):
    """Like _platform.running_platform, with EOPDE_ADES_WORKERS set for the ADES."""
    env, home = platform_env(base_port)
    env["EOPDE_ADES_WORKERS"] = str(workers)
    try:
        eopde(env, "up")
        yield env, home
    finally:
        # purge: also the database cluster, which lives outside a private temporary folder
        subprocess.run([str(BIN / "eopde"), "purge", "--yes"], env=env, capture_output=True,
                       timeout=300)


class Bare:
    """`cwltool --no-container` on the runnable copy of a CWL, as a subprocess."""

    def __init__(self, cwl: Path, entry: str, work: Path, timeout: float):
        from eopde.apppkg.run import write_no_container_copy

        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.cwl = work / f"{entry}-no-container.cwl"
        write_no_container_copy(cwl, self.cwl)
        self.entry, self.timeout = entry, timeout
        self.env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
        self.count = 0

    def run(self, inputs: dict) -> float:
        self.count += 1
        job = self.work / f"run-{self.count}"
        job.mkdir()
        (job / "inputs.json").write_text(json.dumps(inputs))
        cmd = [str(BIN / "cwltool"), "--no-container", "--outdir", str(job / "out"),
               f"{self.cwl}#{self.entry}", str(job / "inputs.json")]
        began = time.perf_counter()
        result = subprocess.run(cmd, cwd=job, env=self.env, capture_output=True, text=True,
                                timeout=self.timeout)
        took = time.perf_counter() - began
        if result.returncode != 0 or not list((job / "out").rglob("catalog.json")):
            raise SystemExit(f"bare cwltool failed ({result.returncode}):\n"
                             f"{result.stderr[-3000:]}")
        shutil.rmtree(job, ignore_errors=True)
        return took


def wait_idle(client, timeout: float) -> None:
    """Until the user has no accepted or running job (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not client.jobs(status=["accepted", "running"], limit=None):
            return
        time.sleep(0.5)
    raise SystemExit(f"the ADES still has queued or running jobs after {timeout:g} s")


# ----------------------------------------------------------------------------- parts

def job_overhead(client, bare: Bare, args) -> None:
    from eopde.ades import JobFailed

    inputs = {"seconds": args.seconds}
    bare.run({"seconds": 0.0})  # warm the file cache for cwltool and the kernel
    client.execute("sleeper", {"seconds": 0.0}).wait(timeout=args.job_timeout, interval=0.2,
                                                      backoff=1.0, progress=False)
    ades_times, bare_times, server = [], [], []
    for _ in range(args.runs):
        bare_times.append(bare.run(inputs))
        began = time.perf_counter()
        job = client.execute("sleeper", inputs)
        try:
            status = job.wait(timeout=args.job_timeout, interval=0.2, backoff=1.0,
                              progress=False)
        except JobFailed as err:
            raise SystemExit(f"ADES job failed: {err}\n{job.logs()[-3000:]}")
        ades_times.append(time.perf_counter() - began)
        created, started, finished = (parse_time(status.raw.get(k))
                                      for k in ("created", "started", "finished"))
        if created and started and finished:
            server.append(((started - created).total_seconds(),
                           (finished - started).total_seconds()))
    ours, base = statistics.median(ades_times), statistics.median(bare_times)
    print(f"1. job overhead: sleeper notebook package, seconds={args.seconds:g}, "
          f"median of {args.runs} runs each, interleaved (s)")
    print(f"  {'bare cwltool --no-container':<30} {base:7.2f}   runs: "
          + ", ".join(f"{t:.2f}" for t in bare_times))
    print(f"  {'ADES execute -> wait':<30} {ours:7.2f}   runs: "
          + ", ".join(f"{t:.2f}" for t in ades_times))
    print(f"  ratio ADES / bare {ours / base:13.3f}   (aim <= 1.15; overhead {ours - base:+.2f} s)")
    if server:
        queue = statistics.median(s[0] for s in server)
        run = statistics.median(s[1] for s in server)
        print(f"  server side (status times, median): queued {queue:.2f} s, "
              f"started -> finished {run:.0f} s (stage-in, cwltool, stage-out; the status "
              "times have whole-second resolution)")


def deploy_and_accept(client, quick_dir: Path, args) -> None:
    deploys, undeploys = [], []
    for _ in range(args.deploys):
        began = time.perf_counter()
        client.deploy(quick_dir)
        deploys.append(time.perf_counter() - began)
        began = time.perf_counter()
        client.undeploy("quick")
        undeploys.append(time.perf_counter() - began)
    client.deploy(quick_dir)

    headers = {"Content-Type": "application/json", "Prefer": "respond-async"}
    body = json.dumps({"inputs": {"seconds": 0.0}})
    accepts, job_ids = [], []
    for _ in range(args.accepts):
        began = time.perf_counter()
        response = client.request("POST", "processes/quick/execution", content=body,
                                  headers=headers)
        accepts.append(time.perf_counter() - began)
        if response.status_code != 201:
            raise SystemExit(f"execute answered {response.status_code}, not 201")
        job_ids.append(response.json()["jobID"])
    for job_id in job_ids:
        client.request("DELETE", f"jobs/{job_id}")
    wait_idle(client, args.job_timeout)

    print(f"2. latency (ms): deploy (quick CWL, median of {args.deploys}) "
          f"{statistics.median(deploys) * 1000:7.1f}   (max {max(deploys) * 1000:.1f}); "
          f"undeploy {statistics.median(undeploys) * 1000:.1f}")
    print(f"   execute -> 201 accepted (median of {args.accepts}) "
          f"{statistics.median(accepts) * 1000:7.1f}   (p90 {pct(accepts, 90) * 1000:.1f}, "
          f"max {max(accepts) * 1000:.1f}; jobs dismissed afterwards)")


def polling(client, token: str, args) -> None:
    import httpx

    job = client.execute("sleeper", {"seconds": args.poll_seconds + 20})
    deadline = time.monotonic() + args.job_timeout
    while job.status().status == "accepted" and time.monotonic() < deadline:
        time.sleep(0.2)
    state = job.status().status
    url = f"{client.url.rstrip('/')}/jobs/{job.id}"
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    start = threading.Barrier(args.pollers + 1)

    def poller() -> None:
        mine, bad = [], []
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            start.wait(timeout=60)
            end = time.monotonic() + args.poll_seconds
            while time.monotonic() < end:
                began = time.perf_counter()
                try:
                    response = http.get(url)
                    if response.status_code != 200:
                        bad.append(f"HTTP {response.status_code}")
                except httpx.HTTPError as err:
                    bad.append(type(err).__name__)
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(args.pollers)]
    for t in threads:
        t.start()
    start.wait(timeout=60)
    began = time.perf_counter()
    for t in threads:
        t.join(timeout=args.poll_seconds + 60)
    wall = time.perf_counter() - began
    client.request("DELETE", f"jobs/{job.id}")
    wait_idle(client, args.job_timeout)
    print(f"3. status polling: {args.pollers} threads (httpx), GET /jobs/{{id}} of a job "
          f"{state} for {args.poll_seconds:g} s")
    print(f"   {len(latencies)} requests, {len(latencies) / wall:7.1f} req/s; latency median "
          f"{statistics.median(latencies) * 1000:.1f} ms, p99 {pct(latencies, 99) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms; errors {len(errors)}"
          + (f" ({', '.join(sorted(set(errors)))})" if errors else ""))


def burst(client, process: str, bare: Bare, args) -> None:
    inputs = {"seconds": args.short_seconds}
    bare.run(inputs)  # warm
    singles = [bare.run(inputs) for _ in range(max(1, args.runs))]
    single = statistics.median(singles)

    submit_times: list[float] = []
    failures: list[str] = []
    headers = {"Content-Type": "application/json", "Prefer": "respond-async"}
    body = json.dumps({"inputs": inputs})

    def submit(_):
        began = time.perf_counter()
        try:
            response = client.request("POST", f"processes/{process}/execution", content=body,
                                      headers=headers)
        except Exception as err:  # noqa: BLE001 - counted, not fatal
            failures.append(f"{type(err).__name__}: {err}")
            return None
        submit_times.append(time.perf_counter() - began)
        return response.json()["jobID"]

    began = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        ids = [i for i in pool.map(submit, range(args.jobs)) if i]
    submitted = time.perf_counter() - began

    final: dict[str, str] = {}
    finished_at: dict[str, float] = {}
    deadline = time.monotonic() + args.burst_timeout
    while len(final) < len(ids) and time.monotonic() < deadline:
        listed = {}
        for status in ("successful", "failed", "dismissed"):
            for j in client.jobs(process_id=process, status=status, limit=None):
                listed[j.id] = j.last_status.status
        now = time.perf_counter()
        for job_id in ids:
            if job_id not in final and job_id in listed:
                final[job_id] = listed[job_id]
                finished_at[job_id] = now
        if len(final) < len(ids):
            time.sleep(0.5)
    wall = (max(finished_at.values()) - began) if finished_at else float("nan")
    timed_out = [i for i in ids if i not in final]

    # every submitted id accounted for: in the job list, and its own status document
    listed_all = {j.id for j in client.jobs(process_id=process, limit=None)}
    missing = [i for i in ids if i not in listed_all]
    not_found = 0
    for job_id in ids:
        try:
            client.job(job_id)
        except Exception:  # noqa: BLE001
            not_found += 1
    counts = {s: sum(1 for v in final.values() if v == s)
              for s in ("successful", "failed", "dismissed")}
    total_bare = args.jobs * single
    print(f"4. burst: {args.jobs} jobs of `{process}` (seconds={args.short_seconds:g}) "
          f"submitted at once (20 threads) on {args.workers} workers")
    print(f"   bare single run (cwltool --no-container, median of {len(singles)}): "
          f"{single:.2f} s; submitting took {submitted:.2f} s "
          f"(POST median {statistics.median(submit_times) * 1000:.0f} ms, "
          f"max {max(submit_times) * 1000:.0f} ms)" if submit_times else "")
    print(f"   submitted {len(ids)}/{args.jobs} (submit errors {len(failures)}); "
          f"successful {counts['successful']}, failed {counts['failed']}, "
          f"dismissed {counts['dismissed']}, unfinished at the "
          f"{args.burst_timeout:g} s bound {len(timed_out)}; "
          f"lost (not in GET /jobs) {len(missing)}, not found by id {not_found}")
    print(f"   wall time {wall:7.1f} s   sum of bare runs {total_bare:7.1f} s "
          f"(ratio {wall / total_bare:.3f});  "
          f"sum / {args.workers} {total_bare / args.workers:7.1f} s "
          f"(ratio {wall / (total_bare / args.workers):.3f})")
    if counts["failed"]:
        bad = next(i for i, s in final.items() if s == "failed")
        print(f"   first failure ({bad}): {client.job(bad).last_status.message}")


# ----------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of the sleeper through the ADES and bare (and bare short runs)")
    parser.add_argument("--seconds", type=float, default=10.0, help="the sleeper's work time")
    parser.add_argument("--deploys", type=int, default=10, help="deploy + undeploy cycles")
    parser.add_argument("--accepts", type=int, default=20, help="executions timed to 201")
    parser.add_argument("--pollers", type=int, default=50, help="concurrent status pollers")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="polling duration")
    parser.add_argument("--jobs", type=int, default=100, help="jobs of the burst")
    parser.add_argument("--workers", type=int, default=2, help="ADES workers (EOPDE_ADES_WORKERS)")
    parser.add_argument("--short-tool", choices=("plain", "notebook"), default="plain",
                        help="the burst's tool: plain CWL (default) or the sleeper notebook")
    parser.add_argument("--short-seconds", type=float, default=0.5,
                        help="work time of each burst job")
    parser.add_argument("--job-timeout", type=float, default=180, help="bound of one job (s)")
    parser.add_argument("--burst-timeout", type=float, default=900, help="bound of the burst (s)")
    args = parser.parse_args()

    from eopde.ades import Client
    from eopde.apppkg.images import publish_local
    from eopde.apppkg.package import make_package

    base_port = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19900"))
    tmp = Path(tempfile.mkdtemp(prefix="eopde-bench-ades-"))
    try:
        notebook = make_notebook(tmp / "sleeper.ipynb")
        pkg = make_package(notebook, tmp / "sleeper-pkg", version="1.0.0",
                           author="Ada Lovelace <ada@example.org>",
                           affiliation="Analytical Engines Ltd", license="CC-BY-4.0",
                           code_repository="https://example.org/git/sleeper")
        quick_dir = make_quick(tmp / "quick-pkg")
        bare_sleeper = Bare(pkg.cwl_path, pkg.app_id, tmp / "bare-sleeper", args.job_timeout)
        bare_quick = Bare(quick_dir / "quick.cwl", "quick", tmp / "bare-quick", args.job_timeout)

        began = time.monotonic()
        with running_platform(base_port, args.workers) as (env, home):
            up_s = time.monotonic() - began
            token = subprocess.run([str(BIN / "eopde"), "token", USER], env=env,
                                   capture_output=True, text=True, check=True,
                                   timeout=60).stdout.strip()
            publish_local(pkg, root=home / "images")
            publish_local(quick_dir, root=home / "images")
            url = f"http://127.0.0.1:{base_port + 14}/{USER}/ogc-api"
            print(f"platform up in {up_s:.1f} s (base port {base_port}); ADES {url}, "
                  f"{args.workers} workers, {os.cpu_count()} cores")
            with Client(url, USER, token, timeout=60) as client:
                client.deploy(pkg.directory)
                job_overhead(client, bare_sleeper, args)
                deploy_and_accept(client, quick_dir, args)
                polling(client, token, args)
                if args.short_tool == "notebook":
                    burst(client, pkg.app_id, bare_sleeper, args)
                else:
                    burst(client, "quick", bare_quick, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
