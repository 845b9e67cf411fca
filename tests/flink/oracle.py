"""Flink itself as the oracle for the csv and json formats.

Runs small batch jobs on a local Flink (PyFlink) and prints what Flink
writes and reads; the expected values in tests/formats.rs and in
tests/golden/csv/*.golden ("--- output") came from here. Not part of the
test suite (Flink takes ~10 s to start per job): run it with
`bash scripts/flink-oracle` when a format's Flink behaviour is in question.
"""
import glob
import os
import shutil
import tempfile

from pyflink.table import EnvironmentSettings, TableEnvironment

WORK = tempfile.mkdtemp(prefix="weir-flink-oracle-")
env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
env.get_config().set("parallelism.default", "1")
counter = 0


def table(schema, fmt, data, options=()):
    """A filesystem table over `data`; returns its name."""
    global counter
    counter += 1
    path = os.path.join(WORK, f"in-{counter}")
    with open(path, "w") as f:
        f.write(data)
    extra = "".join(f", '{k}' = '{v}'" for k, v in options)
    name = f"t{counter}"
    env.execute_sql(
        f"CREATE TABLE {name} ({schema}) WITH ('connector' = 'filesystem', 'path' = 'file://{path}', "
        f"'format' = '{fmt}'{extra})"
    )
    return name


def written(schema, query, options=()):
    """What Flink's csv writer writes for the rows of `query`."""
    global counter
    counter += 1
    out = os.path.join(WORK, f"out-{counter}")
    extra = "".join(f", '{k}' = '{v}'" for k, v in options)
    env.execute_sql(
        f"CREATE TABLE o{counter} ({schema}) WITH ('connector' = 'filesystem', 'path' = 'file://{out}', "
        f"'format' = 'csv'{extra})"
    )
    env.execute_sql(f"INSERT INTO o{counter} {query}").wait()
    text = ""
    for f in sorted(glob.glob(out + "/**/*", recursive=True)):
        if os.path.isfile(f) and not os.path.basename(f).startswith("."):
            text += open(f).read()
    return text


def read(name):
    try:
        with env.execute_sql(f"SELECT * FROM {name}").collect() as rows:
            return [str(r) for r in rows]
    except Exception as e:  # Flink's own error, for the record
        return ["ERROR " + ([l for l in str(e).splitlines() if "Caused by" in l] or [str(e)])[-1].strip()]


SAMPLE = ("id INT, s STRING, d DECIMAL(10, 2), ts TIMESTAMP(3), sp STRING, c STRING, q STRING, e STRING, "
          "n STRING, x DOUBLE, b BOOLEAN, dt DATE, tiny DECIMAL(20, 10), big DOUBLE, arr ARRAY<INT>")
print("== csv writer (tests/formats.rs csv_writes_what_flink_writes)")
print(written(SAMPLE, """VALUES
 (1, 'plain', CAST(1.5 AS DECIMAL(10, 2)), TIMESTAMP '2024-01-02 03:04:05.678', ' lead', 'a,b', 'say "hi"',
  '', CAST(NULL AS STRING), 1.0E-5, TRUE, DATE '2024-02-29', CAST(0.0000000123 AS DECIMAL(20, 10)), 1.0E20, ARRAY[1, 2]),
 (2, 'x y', CAST(-0.05 AS DECIMAL(10, 2)), TIMESTAMP '2024-01-02 03:04:05', 'trail ', 'line
break', '#hash', ' ', 'null', 12345.678, FALSE, DATE '1970-01-01', CAST(100 AS DECIMAL(20, 10)), 0.0, ARRAY[3])"""), end="")

print("== reading leniencies (tests/formats.rs json_reads_what_flink_reads, csv_reads_booleans_and_fractions_as_flink)")
print(read(table("i INT, b BOOLEAN, t TIMESTAMP(3)", "json",
                 '{"i":1.9,"b":"TRUE","t":"2024-01-01 00:00:00.123456"}\n{"i":-1.9,"b":"yes","t":"2024-01-01 00:00:00.9999"}\n')))
print(read(table("ok BOOLEAN, t TIMESTAMP(3)", "csv", "yes,2024-01-01 00:00:00.123456\nTrue,2024-01-01 00:00:00.5\n")))
print("== ignore-parse-errors: a bad field is null, its row kept")
print(read(table("id INT, n INT", "json", '{"id":1,"n":"x"}\n{oops\n{"id":3,"n":4}\n', [("json.ignore-parse-errors", "true")])))
print(read(table("id INT, v BIGINT", "csv", "1,10\n2,x\n3,4\n", [("csv.ignore-parse-errors", "true")])))
print("== csv field counts and empty numbers (docs/formats.md)")
for data in ["1,a\n2\n", "3,c,extra\n", "5,x,\n", ",x\n"]:
    print(repr(data), read(table("id INT, s STRING", "csv", data)))
print("== tests/golden/csv/all-types.golden, --- output (the rows fed as JSON)")
ALL = ("b BOOLEAN, ti TINYINT, si SMALLINT, i INT, bi BIGINT, f FLOAT, d DOUBLE, `dec` DECIMAL(20,7), s STRING, "
       "vc VARCHAR(10), `by` BYTES, dt DATE, t TIME(3), ts TIMESTAMP(6), tsl TIMESTAMP_LTZ(3), arr ARRAY<INT>")
rows = table(ALL, "json", "\n".join([
    '{"b":true,"ti":-128,"si":-32768,"i":-2147483648,"bi":-9223372036854775808,"f":1.5,"d":-0.0,"dec":0.0000001,"s":"Alice","vc":"x","by":"AAEC/w==","dt":"2024-02-29","t":"23:59:59.999","ts":"2024-02-29 12:34:56.123456","tsl":"1970-01-01 00:00:00Z","arr":[1,2,3]}',
    '{"b":false,"ti":127,"si":32767,"i":2147483647,"bi":9223372036854775807,"f":3.4028235E38,"d":1.7976931348623157E308,"dec":1234567890123.4567890,"s":"quoted, with comma","vc":"say \\"hi\\"","by":null,"dt":"1970-01-01","t":"00:00:00","ts":"1969-12-31 23:59:59.999999","tsl":"2038-01-19 03:14:07.999Z","arr":null}',
    '{"b":null,"ti":null,"si":null,"i":null,"bi":null,"f":null,"d":null,"dec":null,"s":"","vc":"","by":null,"dt":null,"t":null,"ts":null,"tsl":null,"arr":null}',
    '{"b":true,"ti":0,"si":0,"i":0,"bi":0,"f":"NaN","d":"-Infinity","dec":-1E+2,"s":"wörld 日本語 🦀","vc":"","by":null,"dt":"0001-01-01","t":"12:00:00.5","ts":"9999-12-31 23:59:59.999999","tsl":"2000-01-01 00:00:00.001Z","arr":[null,4,null]}',
]) + "\n")
print(written(ALL, f"SELECT * FROM {rows}"), end="")
print("== tests/golden/csv/options.golden, --- output")
OPT = "id INT NOT NULL, name STRING, tags ARRAY<STRING>, amount DECIMAL(12,9)"
rows = table(OPT, "json", '{"id":1,"name":"Alice","tags":["a","b"],"amount":0.000000010}\n'
             '{"id":2,"name":null,"tags":null,"amount":null}\n'
             '{"id":3,"name":"semi;colon","tags":["x;y","z"],"amount":123.000000000}\n'
             '{"id":4,"name":"back;slash","tags":[],"amount":-0.000000001}\n')
print(written(OPT, f"SELECT * FROM {rows}", [("csv.field-delimiter", ";"), ("csv.quote-character", "''"),
      ("csv.escape-character", "\\"), ("csv.null-literal", "n/a"), ("csv.allow-comments", "true"),
      ("csv.array-element-delimiter", "|"), ("csv.write-bigdecimal-in-scientific-notation", "false")]), end="")
shutil.rmtree(WORK, ignore_errors=True)
