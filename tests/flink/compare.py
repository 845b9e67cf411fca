"""Weir against Flink on the same files, parallelism 1, in one run.

    compare.py WEIR_BINARY [--rows N] [--work DIR]

Generates N rows (default 17,200,000; deterministic: the same N gives the
same bytes) of `id BIGINT, name STRING, price DOUBLE, ts TIMESTAMP(3),
flag BOOLEAN` — names quoted, with commas and doubled quotes, about 1.5 %
NULLs — as a CSV file and as JSON lines, then runs two jobs on each side:

  * filesystem csv  -> filesystem json
  * filesystem json -> blackhole

Flink 2.3 runs them as batch jobs on a local mini-cluster (PyFlink from
PyPI, parallelism.default = 1); its figure is the job's net runtime as Flink
reports it (cluster start-up excluded). Weir's figure is the whole `weir
run` process, start-up included. Both sides' row counts are checked (the
json files written, and the blackhole's input counted by a COUNT query on
Flink's side and the run summary on Weir's). Prints rows/s, the ratio,
each side's peak RSS and Weir's start-to-first-row time. Run by
scripts/compare-flink.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SCHEMA = "id BIGINT, name STRING, price DOUBLE, ts TIMESTAMP(3), flag BOOLEAN"
# An empty field is NULL on both sides (Flink's csv refuses an empty field
# in a non-string column unless it is the null literal).
NULL_LITERAL = "'csv.null-literal' = ''"
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def generate(rows, csv_path, json_path):
    """Deterministic rows; a NULL in name, price, ts or flag on ~1.5 %."""
    with open(csv_path, "w") as c, open(json_path, "w") as j:
        csv_lines, json_lines = [], []
        for i in range(1, rows + 1):
            h = (i * 2654435761) & 0xFFFFFFFF
            base = NAMES[h % 8]
            if h % 11 == 0:
                name_csv, name_json = f'"{base}, jr."', f'"{base}, jr."'
            elif h % 13 == 0:
                name_csv, name_json = f'"{base} ""the"" {h % 100}"', f'"{base} \\"the\\" {h % 100}"'
            else:
                name_csv, name_json = f"{base}{h % 1000}", f'"{base}{h % 1000}"'
            price = f"{(h % 1000000) / 100:.2f}"
            ms = 1700000000000 + i * 37
            secs, milli = divmod(ms, 1000)
            t = time.gmtime(secs)
            ts = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{milli:03d}"
            flag = "true" if h & 1 else "false"
            null = h % 67
            fields_csv = [str(i), name_csv, price, ts, flag]
            fields_json = [str(i), name_json, price, f'"{ts}"', flag]
            if null < 4:  # ~6 % of rows have one of the 4 nullable columns NULL → ~1.5 % NULLs
                fields_csv[1 + null] = ""
                fields_json[1 + null] = "null"
            csv_lines.append(",".join(fields_csv))
            json_lines.append(
                '{"id":%s,"name":%s,"price":%s,"ts":%s,"flag":%s}' % tuple(fields_json)
            )
            if len(csv_lines) == 100000:
                c.write("\n".join(csv_lines) + "\n")
                j.write("\n".join(json_lines) + "\n")
                csv_lines, json_lines = [], []
        if csv_lines:
            c.write("\n".join(csv_lines) + "\n")
            j.write("\n".join(json_lines) + "\n")


def count_lines(directory):
    total = 0
    for f in glob.glob(os.path.join(directory, "**", "*"), recursive=True):
        if os.path.isfile(f) and not os.path.basename(f).startswith("."):
            with open(f, "rb") as fh:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return total


def run_weir(weir, work, name, sql):
    job = os.path.join(work, f"{name}.sql")
    with open(job, "w") as f:
        f.write(sql)
    start = time.monotonic()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "maxrss_kb=%M", weir, "run", job, "--fresh",
         "--allow-read", work, "--allow-write", work],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    _, err = proc.communicate()
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"weir failed on {name}:\n{err}")
    rss = int(re.search(r"maxrss_kb=(\d+)", err).group(1)) // 1024
    rows = re.search(r"([\d,]+) rows", err)
    return elapsed, rss, int(rows.group(1).replace(",", "")) if rows else None


def first_row_ms(weir, work, runs=15):
    """Median time from starting `weir run` of `SELECT * FROM src LIMIT 1`
    (the CSV table; compiled components cached after the first run) to the
    first row on its stdout."""
    job = os.path.join(work, "first-row.sql")
    with open(job, "w") as f:
        f.write(f"CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = 'in.csv', "
                f"'format' = 'csv', {NULL_LITERAL});\nSELECT * FROM src LIMIT 1;\n")
    times = []
    for _ in range(runs + 1):
        start = time.monotonic()
        proc = subprocess.Popen([weir, "run", job, "--allow-read", work], cwd=work,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = proc.stdout.readline()
        times.append((time.monotonic() - start) * 1000)
        proc.stdout.close()
        if proc.wait() != 0 or not line:
            sys.exit(f"weir failed on the first-row job ({job})")
    times = sorted(times[1:])  # the first run may compile the components
    return times[len(times) // 2]


def flink_env():
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.get_config().set("parallelism.default", "1")
    return env


def jvm_peak_rss_mb():
    """Peak RSS (VmHWM) of the JVM PyFlink started: this process's child."""
    peak = 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != os.getpid():
                continue
            with open(stat.replace("/stat", "/status")) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) // 1024)
        except (OSError, ValueError, IndexError):
            continue
    return peak


def net_runtime_s(result):
    job = result.get_job_client().get_job_execution_result().result()
    return job.get_net_runtime() / 1000.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("weir")
    p.add_argument("--rows", type=int, default=17_200_000)
    p.add_argument("--work")
    p.add_argument("--runs", type=int, default=3, help="runs per job and side; the best counts (the machine is noisy)")
    args = p.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="weir-vs-flink-")
    os.makedirs(work, exist_ok=True)
    csv_path, json_path = os.path.join(work, "in.csv"), os.path.join(work, "in.json")
    marker = os.path.join(work, f"rows-{args.rows}")
    if not os.path.exists(marker):
        print(f"generating {args.rows:,} rows in {work} …", file=sys.stderr)
        generate(args.rows, csv_path, json_path)
        open(marker, "w").close()
    sizes = (os.path.getsize(csv_path) / 1e9, os.path.getsize(json_path) / 1e9)
    print(f"data: {args.rows:,} rows, {sizes[0]:.2f} GB of CSV, {sizes[1]:.2f} GB of JSON lines")

    results = []
    # Weir.
    for name, sql, out in [
        ("csv-to-json",
         f"CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = 'in.csv', 'format' = 'csv', "
         f"{NULL_LITERAL});\n"
         f"CREATE TABLE dst ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = 'weir-out', 'format' = 'json');\n"
         "INSERT INTO dst SELECT * FROM src;\n", "weir-out"),
        ("json-to-blackhole",
         f"CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = 'in.json', 'format' = 'json');\n"
         f"CREATE TABLE dst ({SCHEMA}) WITH ('connector' = 'blackhole');\n"
         "INSERT INTO dst SELECT * FROM src;\n", None),
    ]:
        best = None
        for _ in range(args.runs):
            if out:
                shutil.rmtree(os.path.join(work, out), ignore_errors=True)
            elapsed, rss, summary_rows = run_weir(args.weir, work, name, sql)
            rows = count_lines(os.path.join(work, out)) if out else summary_rows
            if best is None or elapsed < best[2]:
                best = ("weir", name, elapsed, rss, rows)
        results.append(best)
    first_row = first_row_ms(args.weir, work)

    # Flink, in this process's child JVM (PyFlink's gateway).
    env = flink_env()
    env.execute_sql(f"CREATE TABLE csv_src ({SCHEMA}) WITH ('connector' = 'filesystem', "
                    f"'path' = 'file://{csv_path}', 'format' = 'csv', {NULL_LITERAL})")
    env.execute_sql(f"CREATE TABLE json_src ({SCHEMA}) WITH ('connector' = 'filesystem', "
                    f"'path' = 'file://{json_path}', 'format' = 'json')")
    out = os.path.join(work, "flink-out")
    shutil.rmtree(out, ignore_errors=True)
    env.execute_sql(f"CREATE TABLE json_dst ({SCHEMA}) WITH ('connector' = 'filesystem', "
                    f"'path' = 'file://{out}', 'format' = 'json')")
    env.execute_sql(f"CREATE TABLE hole ({SCHEMA}) WITH ('connector' = 'blackhole')")
    seconds = None
    for _ in range(args.runs):
        shutil.rmtree(out, ignore_errors=True)
        r = env.execute_sql("INSERT INTO json_dst SELECT * FROM csv_src")
        seconds = min(seconds or float("inf"), net_runtime_s(r))
    results.append(("flink", "csv-to-json", seconds, None, count_lines(out)))
    seconds = min(net_runtime_s(env.execute_sql("INSERT INTO hole SELECT * FROM json_src")) for _ in range(args.runs))
    with env.execute_sql("SELECT COUNT(*) FROM json_src").collect() as rows:
        counted = list(rows)[0][0]
    results.append(("flink", "json-to-blackhole", seconds, None, counted))
    jvm_rss = jvm_peak_rss_mb()

    print(f"{'job (parallelism 1)':<22}{'Weir rows/s':>14}{'Flink rows/s':>14}{'Weir/Flink':>12}"
          f"{'Weir RSS':>10}{'Flink RSS':>11}")
    for name in ["csv-to-json", "json-to-blackhole"]:
        w = next(r for r in results if r[0] == "weir" and r[1] == name)
        f = next(r for r in results if r[0] == "flink" and r[1] == name)
        for side in (w, f):
            if side[4] != args.rows:
                sys.exit(f"{side[0]} {name}: {side[4]} rows, expected {args.rows}")
        wr, fr = args.rows / w[2], args.rows / f[2]
        print(f"{name:<22}{wr:>14,.0f}{fr:>14,.0f}{wr / fr:>11.2f}x{w[3]:>8} MB{jvm_rss:>8} MB")
    print(f"Weir start to first row: {first_row:.0f} ms (weir run of SELECT * FROM src LIMIT 1, median of 15)")
    print(f"(best of {args.runs} runs per job and side; Weir: the whole process; Flink: the job's net runtime. "
          f"Work dir: {work})")


if __name__ == "__main__":
    main()
