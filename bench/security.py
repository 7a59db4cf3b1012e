"""Benchmark: does a burst of abandoned synchronous executes slow anyone else down?

    .venv/bin/python bench/security.py [--seconds S] [--pollers 50] [--searchers 100]

Starts a throw-away local platform (ports from EOPDE_BENCH_BASE_PORT, default 19900), deploys a
shell tool that sleeps 30 s (its image stand-in published with `publish_local`) for the user
`bench`, starts one job to poll, and measures twice, without and then with the burst:

- the ADES: --pollers threads polling GET /jobs/{id} of that job for --seconds: client-side
  p50/p99 (ms), and the server's own time per request from its `Server-Timing: app;dur=` header;
- the catalogue: --searchers threads running GET /search (10 items) for --seconds: p50/p99 (ms);

the burst: 40 threads of user `mallory` sending synchronous executes of the sleeping tool and
abandoning each after 1.5 s, again and again, for the whole measurement (they get 429 beyond
the per-user bound), in a process of its own. Prints the figures and the ratios burst / no
burst. Client times include this process's own load (many threads, one GIL); the server's time
(Server-Timing) is the ADES's alone, from the request reaching the app to the response's start.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _platform import BIN, running_platform  # noqa: E402


def status_of(env: dict) -> dict:
    out = subprocess.run([str(BIN / "eopde"), "status", "--json"], env=env, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def token(env: dict, user: str) -> str:
    return subprocess.run([str(BIN / "eopde"), "token", user], env=env, capture_output=True,
                          text=True).stdout.strip()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def hammer(n: int, seconds: float, request) -> tuple[list[float], list[float], int]:
    """n threads calling request(client) for `seconds`: client ms, server ms, errors."""
    client_ms: list[float] = []
    server_ms: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds

    def run() -> None:
        with httpx.Client(timeout=30) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = request(c)
                except httpx.HTTPError:
                    errors[0] += 1
                    continue
                client_ms.append((time.perf_counter() - t0) * 1000)
                timing = r.headers.get("server-timing", "")
                if "dur=" in timing:
                    server_ms.append(float(timing.split("dur=")[1].split(",")[0]))
                if r.status_code != 200:
                    errors[0] += 1

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return client_ms, server_ms, errors[0]


def burst(ades: str, tok: str, stop: threading.Event, counts: dict) -> None:
    def one() -> None:
        while not stop.is_set():
            try:
                with httpx.Client(headers={"Authorization": f"Bearer {tok}"}, timeout=1.5) as c:
                    r = c.post(f"{ades}/mallory/ogc-api/processes/slow/execution",
                               json={"inputs": {}})
                    counts[r.status_code] = counts.get(r.status_code, 0) + 1
            except httpx.TimeoutException:
                counts["abandoned"] = counts.get("abandoned", 0) + 1
            except httpx.HTTPError:
                counts["error"] = counts.get("error", 0) + 1

    threads = [threading.Thread(target=one, daemon=True) for _ in range(40)]
    for t in threads:
        t.start()
    stop.wait()


def _burst_process(ades: str, tok: str, counts) -> None:
    local: dict = {}
    stop = threading.Event()
    threading.Thread(target=burst, args=(ades, tok, stop, local), daemon=True).start()
    while True:
        time.sleep(0.5)
        counts.update(local)


def measure(args, ades: str, catalogue: str, tok: str, job: str) -> dict:
    headers = {"Authorization": f"Bearer {tok}"}
    status_url = f"{ades}/bench/ogc-api/jobs/{job}"
    poll = hammer(args.pollers, args.seconds, lambda c: c.get(status_url, headers=headers))
    search = hammer(args.searchers, args.seconds, lambda c: c.get(
        f"{catalogue}/search", params={"collections": "sentinel-2-l2a", "limit": 10}))
    return {"poll_p50": pct(poll[0], .5), "poll_p99": pct(poll[0], .99),
            "poll_server_p50": pct(poll[1], .5), "poll_server_p99": pct(poll[1], .99),
            "poll_n": len(poll[0]), "poll_errors": poll[2],
            "search_p50": pct(search[0], .5), "search_p99": pct(search[0], .99),
            "search_n": len(search[0]), "search_errors": search[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--searchers", type=int, default=100)
    args = parser.parse_args()
    base = int(os.environ.get("EOPDE_BENCH_BASE_PORT", "19900"))
    with running_platform(base) as (env, home):
        from security.ades_jobs import sh_process

        from eopde.apppkg.images import publish_local

        urls = {k: v["url"] for k, v in status_of(env).items()
                if isinstance(v, dict) and "url" in v}
        ades, catalogue = urls["ades"], urls["catalogue"]
        tok, mtok = token(env, "bench"), token(env, "mallory")
        work = Path(tempfile.mkdtemp())
        (work / "sh").mkdir()
        (work / "sh" / "t.cwl").write_text(json.dumps(sh_process("t", "true")))
        publish_local(work / "sh", root=home / "images")
        for user, tk in (("bench", tok), ("mallory", mtok)):
            r = httpx.post(f"{ades}/{user}/ogc-api/processes", headers={
                "Authorization": f"Bearer {tk}", "Content-Type": "application/cwl+json"},
                content=json.dumps(sh_process("slow", "sleep 600")), timeout=60)
            assert r.status_code == 201, r.text
        r = httpx.post(f"{ades}/bench/ogc-api/processes/slow/execution", json={"inputs": {}},
                       headers={"Authorization": f"Bearer {tok}", "Prefer": "respond-async"})
        job = r.json()["jobID"]
        quiet = measure(args, ades, catalogue, tok, job)
        # the burst in its own process: its threads must not share this one's GIL
        import multiprocessing

        counts = multiprocessing.Manager().dict()
        proc = multiprocessing.Process(target=_burst_process, args=(ades, mtok, counts))
        proc.start()
        time.sleep(3)
        loaded = measure(args, ades, catalogue, tok, job)
        proc.terminate()
        proc.join(10)
        print(f"burst requests: {dict(counts)}")
        print(f"{'figure':<18}{'no burst':>10}{'burst':>10}{'ratio':>8}")
        for key in quiet:
            a, b = quiet[key], loaded[key]
            ratio = f"{b / a:.2f}" if a else "-"
            print(f"{key:<18}{a:>10.1f}{b:>10.1f}{ratio:>8}")


if __name__ == "__main__":
    main()
