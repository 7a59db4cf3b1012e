"""Benchmark: packaging, validating and locally running an application package of a typical
NDVI notebook, against the plain tools on the same inputs, same run.

    .venv/bin/python bench/apppkg.py [--runs N] [--package-runs N] [--validate-runs N]

Builds (with nbformat, in a temporary folder) an NDVI notebook with 7 parameters, one of them a
`StacItem` input; it reads B04/B08 of the staged scene with rasterio, computes NDVI with the L2A
BOA offset and saves a GeoTIFF with `eopde.outputs.save` — small work, so the figures show the
overhead. Then prints:

1. packaging: median seconds of `make_package` (each run into a new folder; the first, cold, run
   is reported apart); validation: eopde's `validate()` (warm, median) against
   `cwltool --validate` as a subprocess on the same CWL file (median), and their ratio;
2. local run overhead: `run_package` (HTTP stage-in of one demo scene from a local http.server,
   `cwltool --no-container`, stage-out check) against the `papermill` CLI as a subprocess on the
   same notebook, same parameters (`-f parameters.yaml`, `-k python3`, like the package's tool),
   the scene parameter pointing to a staged folder made once beforehand; medians of N runs each,
   interleaved, the ratio eopde-run / papermill, and the breakdown of `RunResult.timings`
   (stage_in, cwltool, tool, stage_out; "tool" is the papermill job inside cwltool).
   `run_package` runs in this (warm) process, as in a notebook; `eopde run` (the CLI, a new
   process each time: Python, imports and cwltool's schemas cold) is timed too.

No container engine is used (cwltool --no-container): the tool runs in this venv, like the
baseline. Timing figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BIN = Path(sys.executable).parent

PARAMS = '''from eopde.outputs import StacItem
scene: StacItem = "data/scene"  # The Sentinel-2 L2A scene to process
red_band = "B04"  # Asset key of the red band
nir_band = "B08"  # Asset key of the near-infrared band
scale = 0.0001  # Digital number to reflectance scale factor
boa_offset = -0.1  # BOA reflectance offset (L2A processing baseline 04.00 and later)
threshold = 0.3  # NDVI above which a pixel counts as vegetated
output_name = "ndvi"  # File name (without extension) of the NDVI GeoTIFF
'''

BODY = '''import numpy as np
import rasterio
from eopde import outputs

item = outputs.load_items(scene)[0]
with rasterio.open(item.assets[red_band].href) as src:
    red_dn = src.read(1)
    profile = src.profile
with rasterio.open(item.assets[nir_band].href) as src:
    nir_dn = src.read(1)
valid = (red_dn > 0) & (nir_dn > 0)
red = red_dn.astype("float32") * scale + boa_offset
nir = nir_dn.astype("float32") * scale + boa_offset
total = nir + red
ndvi = np.full(red.shape, np.nan, dtype="float32")
ok = valid & (total != 0)
ndvi[ok] = (nir[ok] - red[ok]) / total[ok]
vegetated = float(np.mean(ndvi[ok] > threshold)) if ok.any() else 0.0
'''

SAVE = '''profile.update(driver="GTiff", dtype="float32", count=1, nodata=float("nan"),
               compress="deflate")
for key in ("blockxsize", "blockysize", "tiled", "interleave"):
    profile.pop(key, None)
with rasterio.open(f"{output_name}.tif", "w", **profile) as dst:
    dst.write(ndvi, 1)
outputs.save(f"{output_name}.tif", id=f"{item.id}-ndvi", datetime=item.datetime,
             properties={"ndvi:threshold": threshold, "ndvi:vegetated_fraction": vegetated})
print(f"NDVI of {item.id}: {vegetated:.1%} of the valid pixels above {threshold}")
'''

OPTIONS = dict(author="Ada Lovelace <ada@example.org>", affiliation="Analytical Engines Ltd",
               license="CC-BY-4.0", code_repository="https://example.org/git/ndvi")

PARAM_VALUES = dict(red_band="B04", nir_band="B08", scale=0.0001, boa_offset=-0.1,
                    threshold=0.25, output_name="ndvi")


def make_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "# Sentinel-2 NDVI\n\nComputes the NDVI of one Sentinel-2 L2A scene (red and "
        "near-infrared bands, BOA offset applied) and saves it as a GeoTIFF."))
    nb.cells.append(nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(BODY))
    nb.cells.append(nbformat.v4.new_code_cell(SAVE))
    nbformat.write(nb, str(path))
    return path


def median_of(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), times


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def stage_by_hand(root: Path, item_dict: dict, assets: list[str], dest: Path) -> Path:
    """The baseline's input: a folder with catalog.json + the item + local copies of its assets
    (copied from the demo data folder, not through eopde)."""
    import pystac

    from eopde.services.demodata import COLLECTION_ID

    item = pystac.Item.from_dict(item_dict)
    item.clear_links()
    item_dir = dest / item.id
    item_dir.mkdir(parents=True)
    for key in list(item.assets):
        if key not in assets:
            del item.assets[key]
            continue
        name = item.assets[key].href.rsplit("/", 1)[-1]
        shutil.copy2(root / COLLECTION_ID / item.id / name, item_dir / name)
        item.assets[key].href = str(item_dir / name)
    catalog = pystac.Catalog(id="scene", description="hand-staged input of the baseline")
    catalog.add_item(item)
    catalog.normalize_hrefs(str(dest))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return dest


def papermill_run(notebook: Path, params_file: Path, out: Path) -> None:
    out.mkdir(parents=True)
    cmd = [str(BIN / "papermill"), str(notebook), notebook.name, "-f", str(params_file),
           "-k", "python3", "--language", "python", "--log-output", "--no-progress-bar"]
    result = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    if result.returncode != 0 or not (out / "catalog.json").is_file():
        raise SystemExit(f"papermill baseline failed:\n{result.stdout}\n{result.stderr[-3000:]}")


def cli_run(package: Path, item_url: str, assets: list[str], out: Path) -> None:
    """`eopde run` as a user types it: a new process, cold (imports, cwltool's schemas)."""
    cmd = [str(BIN / "eopde"), "run", str(package), "--stac-item", item_url, "--assets",
           ",".join(assets), "--no-container", "--output", str(out)]
    for name, value in PARAM_VALUES.items():
        cmd += ["--param", f"{name}={value}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"eopde run failed:\n{result.stdout}\n{result.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of eopde run and of papermill")
    parser.add_argument("--package-runs", type=int, default=10, help="runs of make_package")
    parser.add_argument("--validate-runs", type=int, default=5,
                        help="runs of validate() and of cwltool --validate")
    parser.add_argument("--assets", default="B04,B08", help="asset keys staged (both sides)")
    args = parser.parse_args()
    assets = [a.strip() for a in args.assets.split(",") if a.strip()]

    from eopde.apppkg.package import make_package
    from eopde.apppkg.run import run_package
    from eopde.apppkg.validate import validate
    from eopde.services import demodata

    tmp = Path(tempfile.mkdtemp(prefix="eopde-bench-apppkg-"))
    try:
        notebook = make_notebook(tmp / "s2_ndvi.ipynb")

        # --- 1. package and validate ------------------------------------------------------
        counter = iter(range(10**6))

        def package():
            return make_package(notebook, tmp / f"pkg-{next(counter)}", version="1.0.0",
                                **OPTIONS)

        began = time.perf_counter()
        pkg = package()
        cold = time.perf_counter() - began
        pkg_median, _ = median_of(package, args.package_runs)
        n_inputs = len(pkg.cwl["$graph"][0]["inputs"])
        print(f"notebook {notebook.name}: {n_inputs} parameters, package {pkg.app_id} "
              f"({len(pkg.files)} files)")
        if pkg.warnings:
            print("  package warnings: " + "; ".join(pkg.warnings))
        print(f"package (make_package), median of {args.package_runs} runs: "
              f"{pkg_median * 1000:8.1f} ms   (first, cold: {cold * 1000:.1f} ms)")

        report = validate(pkg.directory)  # warm: imports, cwltool schema load
        if not report.valid:
            raise SystemExit("validate() says the package is invalid: "
                             + "; ".join(f.message for f in report.errors))
        ours_val, _ = median_of(lambda: validate(pkg.directory), args.validate_runs)

        def cwltool_validate():
            result = subprocess.run([str(BIN / "cwltool"), "--validate", str(pkg.cwl_path)],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"cwltool --validate failed:\n{result.stderr[-3000:]}")

        base_val, _ = median_of(cwltool_validate, args.validate_runs)
        print(f"validate, median of {args.validate_runs} runs (ms)")
        print(f"  {'cwltool --validate':<22} {base_val * 1000:8.1f}   (subprocess)")
        print(f"  {'eopde validate()':<22} {ours_val * 1000:8.1f}   (in-process, warm; "
              f"warnings: {', '.join(f.rule for f in report.warnings) or 'none'})")
        print(f"  ratio eopde / cwltool  {ours_val / base_val:8.2f}")

        # --- 2. local run overhead ---------------------------------------------------------
        data = tmp / "demo"
        began = time.perf_counter()
        demodata.generate(data)
        gen_s = time.perf_counter() - began
        server, base = serve(data)
        try:
            item = demodata.items(data, base)[0]
            (data / "items").mkdir()
            (data / "items" / f"{item['id']}.json").write_text(json.dumps(item))
            item_url = f"{base}/items/{item['id']}.json"
            size = sum((data / demodata.COLLECTION_ID / item["id"] / item["assets"][k]["href"]
                        .rsplit("/", 1)[-1]).stat().st_size for k in assets)
            print(f"local run: 1 demo scene {item['id']} (demo data generated in {gen_s:.1f} s), "
                  f"assets {', '.join(assets)} ({size / 1e6:.1f} MB), served at {base}")

            staged = stage_by_hand(data, item, assets, tmp / "baseline-input")
            params_file = tmp / "parameters.yaml"
            params_file.write_text(json.dumps({"scene": str(staged), **PARAM_VALUES}))

            eopde_times, pm_times, cli_times, breakdowns = [], [], [], []
            for i in range(args.runs):
                began = time.perf_counter()
                result = run_package(pkg.directory, PARAM_VALUES, [item_url], assets=assets,
                                     output=tmp / f"run-{i}", engine="none")
                eopde_times.append(time.perf_counter() - began)
                if not result.ok:
                    raise SystemExit(f"eopde run failed: {result.message}\n{result.log_tail}")
                if len(result.items) != 1:
                    raise SystemExit(f"eopde run: expected one result item, got {result.items}")
                breakdowns.append(result.timings)

                began = time.perf_counter()
                papermill_run(notebook, params_file, tmp / f"papermill-{i}")
                pm_times.append(time.perf_counter() - began)

                began = time.perf_counter()
                cli_run(pkg.directory, item_url, assets, tmp / f"cli-{i}")
                cli_times.append(time.perf_counter() - began)
        finally:
            server.shutdown()

        ours_run, pm_run = statistics.median(eopde_times), statistics.median(pm_times)
        print(f"local run, median of {args.runs} runs each, interleaved (s)")
        print(f"  {'papermill (CLI)':<22} {pm_run:7.2f}   runs: "
              + ", ".join(f"{t:.2f}" for t in pm_times))
        print(f"  {'eopde run_package':<22} {ours_run:7.2f}   runs: "
              + ", ".join(f"{t:.2f}" for t in eopde_times))
        print(f"  ratio eopde / papermill {ours_run / pm_run:6.2f}   "
              f"(overhead {ours_run - pm_run:+.2f} s)")
        cli = statistics.median(cli_times)
        print(f"  {'eopde run (CLI, cold)':<22} {cli:7.2f}   runs: "
              + ", ".join(f"{t:.2f}" for t in cli_times))
        print(f"  ratio eopde run CLI / papermill {cli / pm_run:6.2f}   "
              f"(overhead {cli - pm_run:+.2f} s)")
        print("  eopde breakdown (RunResult.timings, median s):")
        for key in ("stage_in", "cwltool", "tool", "stage_out"):
            values = [b[key] for b in breakdowns if key in b]
            if values:
                print(f"    {key:<10} {statistics.median(values):7.3f}")
        tools = [b["tool"] for b in breakdowns if "tool" in b]
        if tools:
            around = statistics.median(b["cwltool"] - b["tool"] for b in breakdowns if "tool" in b)
            print(f"    {'cwltool outside the tool':<25} {around:7.3f}")
            print(f"    {'tool - papermill baseline':<25} {statistics.median(tools) - pm_run:+7.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
