"""Weir's Flink bridge against Flink's own filesystem connector, in the same
Flink 2.3 mini-cluster setup, on the same files.

    compare_bridge.py JAR [--rows N] [--files F] [--runs R] [--work DIR]

Generates N rows (default 4,000,000) of the perf comparison's data (the
schema and generator of compare.py: quoted names, ~1.5 % NULLs) as F CSV
files (default 4, so parallelism 2 has splits to share), then copies them
to JSON files four ways, each in a fresh PyFlink JVM (batch mode):

  * Flink's filesystem csv -> filesystem json, parallelism 1 and 2
  * 'connector' = 'wasm' (Weir's filesystem + csv -> filesystem + json
    components through the bridge), parallelism 1 and 2

The figure is Flink's net job runtime (start-up of the cluster excluded),
the best of R runs (default 2); the RSS is the JVM's peak (the mini-cluster
is the TaskManager). Both sides' output rows are counted. Run by
scripts/compare-flink --bridge.
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import compare  # noqa: E402

SCHEMA = compare.SCHEMA


def job(args):
    """One configuration, in this process's JVM: prints 'result SECONDS ROWS RSS_MB'."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    config = env.get_config()
    config.set("parallelism.default", str(args.parallelism))
    config.set("pipeline.jars", "file://" + args.jar)
    out = os.path.join(args.work, f"out-{args.side}-{args.parallelism}")
    src = os.path.join(args.work, "in")
    if args.side == "flink":
        env.execute_sql(f"CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = 'file://{src}', "
                        f"'format' = 'csv', {compare.NULL_LITERAL})")
        env.execute_sql(f"CREATE TABLE dst ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = 'file://{out}', "
                        "'format' = 'json')")
    else:
        env.execute_sql(f"CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'wasm', 'component' = 'filesystem', "
                        f"'path' = '{src}', 'format' = 'csv', {compare.NULL_LITERAL}, 'weir.allow-read' = '{src}')")
        env.execute_sql(f"CREATE TABLE dst ({SCHEMA}) WITH ('connector' = 'wasm', 'component' = 'filesystem', "
                        f"'path' = '{out}', 'format' = 'json', 'weir.allow-write' = '{out}')")
    best = None
    for _ in range(args.runs):
        subprocess.run(["rm", "-rf", out], check=True)
        seconds = compare.net_runtime_s(env.execute_sql("INSERT INTO dst SELECT * FROM src"))
        best = seconds if best is None else min(best, seconds)
    print("result", best, compare.count_lines(out), compare.jvm_peak_rss_mb(), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("jar")
    p.add_argument("--rows", type=int, default=4_000_000)
    p.add_argument("--files", type=int, default=4)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--work")
    p.add_argument("--side", help=argparse.SUPPRESS)
    p.add_argument("--parallelism", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        return job(args)
    work = args.work or tempfile.mkdtemp(prefix="weir-bridge-vs-flink-")
    args.work = work
    src = os.path.join(work, "in")
    marker = os.path.join(work, f"rows-{args.rows}-files-{args.files}")
    if not os.path.exists(marker):
        print(f"generating {args.rows:,} rows as {args.files} files in {src} …", file=sys.stderr)
        subprocess.run(["rm", "-rf", src], check=True)
        os.makedirs(src)
        whole, scratch_json = os.path.join(work, "all.csv"), os.path.join(work, "all.json")
        compare.generate(args.rows, whole, scratch_json)
        os.remove(scratch_json)
        subprocess.run(["split", "-n", f"l/{args.files}", "-d", "--additional-suffix=.csv", whole,
                        os.path.join(src, "part-")], check=True)
        os.remove(whole)
        open(marker, "w").close()
    results = {}
    for side in ["flink", "wasm"]:
        for parallelism in [1, 2]:
            proc = subprocess.run(
                [sys.executable, __file__, args.jar, "--work", work, "--runs", str(args.runs),
                 "--side", side, "--parallelism", str(parallelism)],
                capture_output=True, text=True)
            line = [l for l in proc.stdout.splitlines() if l.startswith("result ")]
            if proc.returncode != 0 or not line:
                sys.exit(f"{side} at parallelism {parallelism} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
            _, seconds, rows, rss = line[0].split()
            results[(side, parallelism)] = (float(seconds), int(rows), int(rss))
            if int(rows) != args.rows:
                sys.exit(f"{side} at parallelism {parallelism} wrote {rows} rows, not {args.rows}")
    print(f"data: {args.rows:,} rows in {args.files} CSV files; csv -> json, Flink batch mode, best of {args.runs}")
    print(f"{'parallelism':<13}{'Flink rows/s':>14}{'bridge rows/s':>15}{'bridge/Flink':>14}"
          f"{'Flink RSS':>11}{'bridge RSS':>12}")
    for parallelism in [1, 2]:
        f, w = results[("flink", parallelism)], results[("wasm", parallelism)]
        print(f"{parallelism:<13}{args.rows / f[0]:>14,.0f}{args.rows / w[0]:>15,.0f}{f[0] / w[0]:>13.2f}x"
              f"{f[2]:>8} MB{w[2]:>9} MB")


if __name__ == "__main__":
    main()
