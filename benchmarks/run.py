"""Reproducible performance figures for cfn-strata. Prints tables; asserts nothing.

    python benchmarks/run.py            # everything (about a minute on a 2-core machine)
    python benchmarks/run.py --quick    # fewer repetitions

Figures:
- per profile and environment: in-process generation time (median of N, after import), bytes,
  resources;
- the floor generation is compared to: importing troposphere + awacs and serializing the same
  template dicts with json.dumps;
- whole-process `cfn-strata generate --all`: wall time and peak memory;
- `cfn-strata lint --all`: cold (empty cache) and warm (unchanged templates), against plain
  single-process cfn-lint over the same files;
- the scale profile (params/*scale*) at 10, 30 and 60 services, when present;
- the AWS CDK synth of the product-catalog architecture, when aws-cdk-lib is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from templates.params import REPO_PARAMS, available_profiles, load_config  # noqa: E402
from templates.render import render  # noqa: E402

console = Console(highlight=False, width=150)


def _median_seconds(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


_PEAK = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def _run(command: list[str], env: dict | None = None) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (MiB) of one child process (measured by a fresh parent of its own)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *command],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return wall, peak_kib // 1024, done


def _cli(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "generate.py"), *args]


def generation(repeat: int) -> tuple[Table, float]:
    table = Table(title=f"generation per profile (in-process, median of {repeat}, after import)")
    for column in ("profile", "env", "templates", "resources", "bytes", "generate ms", "serialize floor ms", "ratio"):
        table.add_column(column, justify="left" if column in ("profile", "env") else "right")
    total = 0.0
    for app, envs in available_profiles(REPO_PARAMS).items():
        for env in envs:
            cfg = load_config(app, env, REPO_PARAMS)
            rendered = render(cfg)
            documents = [json.loads(body) for name, body in rendered.files.items() if name != "manifest.json"]
            seconds = _median_seconds(lambda cfg=cfg: render(cfg), repeat)
            floor = _median_seconds(
                lambda documents=documents: [json.dumps(d, indent=2, sort_keys=True) for d in documents], repeat
            )
            total += seconds
            table.add_row(
                app,
                env,
                str(len(documents)),
                str(sum(e["resources"] for e in rendered.manifest["templates"])),
                f"{sum(e['bytes'] for e in rendered.manifest['templates']):,}",
                f"{seconds * 1000:.1f}",
                f"{floor * 1000:.1f}",
                f"{seconds / floor:.1f}×",
            )
    return table, total


def floor_import() -> float:
    """Whole-process import of troposphere + awacs (the generator's unavoidable start-up)."""
    code = (
        "import troposphere, troposphere.ec2, troposphere.iam, troposphere.ecs, troposphere.rds, "
        "troposphere.elasticloadbalancingv2, awacs.aws"
    )
    samples = [_run([sys.executable, "-c", code])[0] for _ in range(3)]
    return statistics.median(samples)


def whole_process(out: Path) -> Table:
    table = Table(title="whole process")
    for column in ("command", "wall s", "peak MiB", "note"):
        table.add_column(column)
    wall, peak, done = _run(_cli("generate", "--all", "--out", str(out)))
    table.add_row(
        "cfn-strata generate --all",
        f"{wall:.2f}",
        str(peak),
        "target < 2 s and < 300 MB" if done.returncode == 0 else f"FAILED: {done.stderr[-200:]}",
    )

    cache = Path(tempfile.mkdtemp(prefix="cfn-strata-bench-cache-"))
    cold, cold_peak, done = _run(_cli("lint", "--all", "--out", str(out)), env={"CFN_STRATA_CACHE": str(cache)})
    table.add_row(
        "cfn-strata lint --all (cold)",
        f"{cold:.2f}",
        str(cold_peak),
        "ok" if done.returncode == 0 else f"exit {done.returncode}",
    )
    warm, warm_peak, done = _run(_cli("lint", "--all", "--out", str(out)), env={"CFN_STRATA_CACHE": str(cache)})
    table.add_row(
        "cfn-strata lint --all (warm)",
        f"{warm:.2f}",
        str(warm_peak),
        "target < 0.3 s" if done.returncode == 0 else f"exit {done.returncode}",
    )
    shutil.rmtree(cache, ignore_errors=True)

    # Plain cfn-lint, one process per region (its CLI takes one region set for all files).
    by_region: dict[str, list[str]] = {}
    for manifest_path in sorted(out.glob("*/*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["templates"]:
            region = "us-east-1" if entry["scope"] == "global" else manifest["region"]
            by_region.setdefault(region, []).append(str(manifest_path.parent / entry["file"]))
    plain = 0.0
    for region, files in sorted(by_region.items()):
        seconds, _, _ = _run(["cfn-lint", "--regions", region, "--", *files])
        plain += seconds
    files = sum(len(f) for f in by_region.values())
    table.add_row(
        f"plain cfn-lint, {files} files, {len(by_region)} process(es)",
        f"{plain:.2f}",
        "-",
        f"ours cold = {cold / plain:.2f}× (target ≤ 0.6×), warm = {warm / plain:.3f}×",
    )
    return table


def scale(repeat: int) -> Table | str:
    names = [app for app in available_profiles(REPO_PARAMS) if "scale" in app]
    if not names:
        return "scale: no params/*scale* profile yet"
    from templates.config import AppConfig

    app = names[0]
    env = available_profiles(REPO_PARAMS)[app][0]
    full = load_config(app, env, REPO_PARAMS)
    table = Table(title=f"scale: {app} ({env}) generation by service count (median of {repeat})")
    for column in ("services", "templates", "resources", "largest template bytes", "generate ms", "ms per service"):
        table.add_column(column, justify="right")
    for count in (10, 30, 60):
        services = dict(list(full.services.items())[:count])
        cfg = AppConfig.model_validate({**full.model_dump(), "services": services})
        rendered = render(cfg)
        seconds = _median_seconds(lambda cfg=cfg: render(cfg), repeat)
        entries = rendered.manifest["templates"]
        table.add_row(
            str(count),
            str(len(entries)),
            str(sum(e["resources"] for e in entries)),
            f"{max(e['bytes'] for e in entries):,}",
            f"{seconds * 1000:.0f}",
            f"{seconds * 1000 / count:.1f}",
        )
    return table


def cdk(ours_seconds: float) -> str:
    try:
        import aws_cdk  # noqa: F401
    except ImportError:
        return "CDK: skipped (aws-cdk-lib is not installed: pip install -e '.[bench]' to compare)"
    app = ROOT / "benchmarks" / "cdk_product_catalog.py"
    outdir = Path(tempfile.mkdtemp(prefix="cdk-out-"))
    samples = []
    for _ in range(3):
        wall, _, done = _run(
            [sys.executable, str(app), str(outdir)], env={"JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1"}
        )
        if done.returncode != 0:
            return f"CDK: synth failed: {done.stderr[-300:]}"
        samples.append(wall)
    synth = statistics.median(samples)
    return (
        f"CDK synth of the product-catalog architecture: {synth:.2f} s whole-process; cfn-strata product-catalog "
        f"(both envs, whole-process) {ours_seconds:.2f} s: {synth / ours_seconds:.0f}× faster (target ≥ 20×)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 3 if args.quick else 9
    console.print(
        f"cfn-strata benchmarks — {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    table, total = generation(repeat)
    console.print(table)
    imports = floor_import()
    console.print(
        f"floor: import troposphere + awacs {imports * 1000:.0f} ms (whole process); all profiles generate in "
        f"{total * 1000:.0f} ms in-process"
    )
    with tempfile.TemporaryDirectory() as out:
        console.print(whole_process(Path(out) / "dist"))
        one_profile, _, _ = _run(_cli("generate", "product-catalog", "--out", str(Path(out) / "pc")))
        console.print(
            f"one profile whole-process (product-catalog, dev+prod): {one_profile:.2f} s = "
            f"{one_profile / imports:.1f}× the import floor (target ≤ 3×)"
        )
    result = scale(repeat)
    console.print(result, markup=False) if isinstance(result, str) else console.print(result)
    console.print(cdk(one_profile), markup=False)


if __name__ == "__main__":
    main()
