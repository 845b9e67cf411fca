"""Weir's Flink bridge on a real Flink 2.3 mini-cluster (PyFlink from PyPI).

    bridge.py JAR SCENARIO ARGS...

Scenarios (tests/flink_bridge.rs runs them and checks what they print or
write; scripts/build-flink-bridge builds JAR):

  changelog PORT         the seeds' socket + changelog-csv example through
                         'connector' = 'wasm' (streaming); prints each row
                         as Flink writes it (+I[Alice, 12]) and stops after
                         the fourth
  copy IN OUT PAR        filesystem csv -> filesystem json, both through
                         'connector' = 'wasm', batch mode, parallelism PAR
  native IN OUT PAR      the same with Flink's own filesystem connector
  denied IN              a wasm source without 'weir.allow-read': prints
                         the planner's error
  bad-option IN          a misspelt component option: prints the error
  pushdown IN            SELECT id, flag … WHERE … LIMIT over a wasm csv
                         source: prints the plan's source scan (what was
                         pushed down) and the rows
  lookup ORDERS URL USER PASSWORD
                         orders (a csv file, read by Flink's own filesystem
                         connector) lookup-joined with PostgreSQL's
                         `customers` through 'component' = 'jdbc'; prints
                         the joined rows
 third-party COUNTER_WASM IN
                         a component file as the connector ('component' =
                         '…/counter.wasm': counts with SUM), then a job whose
                         format traps (the 'panicky' plugin, WEIR_PLUGIN_DIR)
                         and fails, then the first query again in the same
                         JVM; prints 'sum N S', 'failed: …', 'sum N S'
 wasm-format IN OUT      Flink's own filesystem connector with 'format' =
                         'wasm': Weir's csv (';'-delimited) reads IN,
                         Weir's json writes OUT
  arrays OUT             ARRAY<FLOAT> values (null arrays and elements
                         among them) written through a wasm json sink
  vector-search URL USER PASSWORD
                         VECTOR_SEARCH over PostgreSQL's pgvector table
                         `flink_docs` through 'component' = 'jdbc' (cosine),
                         for two query vectors; prints 'hit QID ID SCORE'
  kafka-sink IN BOOTSTRAP TOPIC
                         numbers (csv files, a wasm filesystem source) into
                         a Kafka topic through 'component' = 'kafka' with
                         'sink.delivery-guarantee' = 'exactly-once'
                         (streaming, checkpoints every 200 ms,
                         parallelism 2); prints 'done' at the end
  kafka-source BOOTSTRAP TOPIC
                         the topic read back through 'component' = 'kafka'
                         (earliest to latest offset, batch mode); prints
                         each value as 'n N'
  failover IN OUT CHECKPOINTS [RESTORE]
                         csv -> json through wasm source and sink in
                         streaming mode, checkpointing every 200 ms into
                         CHECKPOINTS (retained); RESTORE: a checkpoint to
                         resume from. Prints 'done' when the job ends.

Every job prints 'runtime_ms N' (Flink's net runtime) when it finishes.
"""

import socket
import sys
import threading

from pyflink.table import EnvironmentSettings, TableEnvironment

SCHEMA = "id BIGINT, name STRING, price DOUBLE, ts TIMESTAMP(3), flag BOOLEAN"
KINDS = {"INSERT": "+I", "UPDATE_BEFORE": "-U", "UPDATE_AFTER": "+U", "DELETE": "-D"}


def env_for(jar, streaming=False, parallelism=1, extra=None):
    settings = EnvironmentSettings.in_streaming_mode() if streaming else EnvironmentSettings.in_batch_mode()
    env = TableEnvironment.create(settings)
    config = env.get_config()
    config.set("pipeline.jars", "file://" + jar)
    config.set("parallelism.default", str(parallelism))
    for key, value in (extra or {}).items():
        config.set(key, value)
    return env


def runtime_ms(result):
    job = result.get_job_client().get_job_execution_result().result()
    print("runtime_ms", job.get_net_runtime(), flush=True)


def wasm_files(name, path, fmt_options, grant, schema=SCHEMA):
    return (f"CREATE TABLE {name} ({schema}) WITH ('connector' = 'wasm', 'component' = 'filesystem', "
            f"'path' = '{path}', {fmt_options}, {grant})")


def changelog(jar, port):
    env = env_for(jar, streaming=True)
    env.execute_sql(
        "CREATE TABLE UserScores (name STRING, score INT) WITH ("
        "'connector' = 'wasm', 'component' = 'socket', "
        f"'hostname' = '127.0.0.1', 'port' = '{port}', 'byte-delimiter' = '10', "
        "'format' = 'changelog-csv', 'changelog-csv.column-delimiter' = '|', "
        f"'weir.allow-net' = '127.0.0.1:{port}')")
    seen = 0
    with env.execute_sql("SELECT * FROM UserScores").collect() as rows:
        for row in rows:
            fields = ", ".join(str(v) for v in row)
            print(f"{KINDS[row.get_row_kind().name]}[{fields}]", flush=True)
            seen += 1
            if seen == 4:
                break


def serve(lines):
    """A socket server on a free loopback port that sends `lines` and stays open."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run():
        while True:
            conn, _ = server.accept()
            conn.sendall(lines)

    threading.Thread(target=run, daemon=True).start()
    return server.getsockname()[1]


def copy(jar, src, dst, parallelism, native=False):
    env = env_for(jar, parallelism=int(parallelism))
    csv = "'format' = 'csv', 'csv.null-literal' = ''"
    if native:
        env.execute_sql(f"CREATE TABLE src ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{src}', {csv})")
        env.execute_sql(f"CREATE TABLE dst ({SCHEMA}) WITH ('connector' = 'filesystem', 'path' = '{dst}', 'format' = 'json')")
    else:
        env.execute_sql(wasm_files("src", src, csv, f"'weir.allow-read' = '{src}'"))
        env.execute_sql(wasm_files("dst", dst, "'format' = 'json'", f"'weir.allow-write' = '{dst}'"))
    runtime_ms(env.execute_sql("INSERT INTO dst SELECT * FROM src"))


def refused(jar, ddl):
    env = env_for(jar)
    env.execute_sql(ddl)
    try:
        env.execute_sql("SELECT * FROM src").collect().close()
        print("accepted")
    except Exception as e:  # the planner's ValidationException, through py4j
        text = str(e)
        start = text.find("table 'src'")
        print("refused:", text[start:].splitlines()[0] if start >= 0 else text)


def pushdown(jar, src):
    env = env_for(jar, parallelism=1)
    env.execute_sql(wasm_files("src", src, "'format' = 'csv', 'csv.null-literal' = ''", f"'weir.allow-read' = '{src}'"))
    # (Flink turns a range on one column into SEARCH(id, Sarg[…]), which stays
    # with Flink: one bound here.)
    query = "SELECT id, flag FROM src WHERE 40 > id AND flag = TRUE AND name IS NOT NULL LIMIT 100"
    for line in env.explain_sql(query).split("== Optimized Execution Plan ==")[-1].splitlines():
        if "TableSourceScan" in line:
            print("scan:", line.strip())
        elif "Calc(" in line:
            print("calc:", line.strip())
    with env.execute_sql(query).collect() as rows:
        for row in rows:
            print("row", row[0], row[1])


def lookup(jar, orders, url, user, password):
    env = env_for(jar)
    env.execute_sql("CREATE TABLE orders (order_id INT, customer_id INT, total INT, proc_time AS PROCTIME()) "
                    f"WITH ('connector' = 'filesystem', 'path' = 'file://{orders}', 'format' = 'csv')")
    host = url.split("//", 1)[1].split("/", 1)[0]
    env.execute_sql("CREATE TABLE customers (id INT, name STRING, country STRING, since DATE, PRIMARY KEY (id) NOT ENFORCED) "
                    f"WITH ('connector' = 'wasm', 'component' = 'jdbc', 'url' = '{url}', 'table-name' = 'customers', "
                    f"'username' = '{user}', 'password' = '{password}', 'weir.allow-net' = '{host}')")
    query = ("SELECT o.order_id, o.total, c.name, c.country, c.since FROM orders AS o "
             "JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id")
    with env.execute_sql(query).collect() as rows:
        for row in rows:
            print("+I[" + ", ".join("null" if v is None else str(v) for v in row) + "]")


def third_party(jar, counter, src):
    env = env_for(jar, parallelism=2, extra={"restart-strategy.type": "fixed-delay",
                                              "restart-strategy.fixed-delay.attempts": "1",
                                              "restart-strategy.fixed-delay.delay": "100 ms"})
    env.execute_sql(f"CREATE TABLE nums (n BIGINT) WITH ('connector' = 'wasm', 'component' = '{counter}', "
                    "'count' = '1000', 'splits' = '3')")
    env.execute_sql(wasm_files("bad", src, "'format' = 'panicky'", f"'weir.allow-read' = '{src}'", schema="line STRING"))

    def count():
        with env.execute_sql("SELECT COUNT(*), SUM(n) FROM nums").collect() as rows:
            for row in rows:
                print("sum", row[0], row[1], flush=True)

    count()
    try:
        env.execute_sql("SELECT * FROM bad").collect().close()
        with env.execute_sql("SELECT * FROM bad").collect() as rows:
            list(rows)
        print("no failure")
    except Exception as e:
        text = str(e)
        causes = [l for l in text.splitlines() if "WeirException" in l]
        print("failed:", causes[0] if causes else text.splitlines()[0], flush=True)
    count()


def wasm_format(jar, src, dst):
    env = env_for(jar)
    schema = "id BIGINT, name STRING, price DOUBLE"
    env.execute_sql(f"CREATE TABLE src ({schema}) WITH ('connector' = 'filesystem', 'path' = 'file://{src}', "
                    "'format' = 'wasm', 'wasm.component' = 'csv', 'wasm.field-delimiter' = ';')")
    env.execute_sql(f"CREATE TABLE dst ({schema}) WITH ('connector' = 'filesystem', 'path' = 'file://{dst}', "
                    "'format' = 'wasm', 'wasm.component' = 'json')")
    runtime_ms(env.execute_sql("INSERT INTO dst SELECT * FROM src"))


def arrays(jar, out):
    env = env_for(jar)
    env.execute_sql(wasm_files("dst", out, "'format' = 'json'", f"'weir.allow-write' = '{out}'",
                               schema="id INT, v ARRAY<FLOAT>, w ARRAY<DOUBLE>"))
    runtime_ms(env.execute_sql(
        "INSERT INTO dst SELECT * FROM (VALUES "
        "(1, ARRAY[CAST(1.5 AS FLOAT), CAST(NULL AS FLOAT), CAST(-2 AS FLOAT)], ARRAY[CAST(0.25 AS DOUBLE)]), "
        "(2, CAST(NULL AS ARRAY<FLOAT>), ARRAY[CAST(1 AS DOUBLE), CAST(2 AS DOUBLE)]), "
        "(3, ARRAY[CAST(3 AS FLOAT)], CAST(NULL AS ARRAY<DOUBLE>))) AS t(id, v, w)"))


def vector_search(jar, url, user, password):
    env = env_for(jar, streaming=True)
    host = url.split("//", 1)[1].split("/", 1)[0]
    env.execute_sql("CREATE TABLE docs (id INT, title STRING, embedding ARRAY<FLOAT>, PRIMARY KEY (id) NOT ENFORCED) "
                    f"WITH ('connector' = 'wasm', 'component' = 'jdbc', 'url' = '{url}', 'table-name' = 'flink_docs', "
                    f"'username' = '{user}', 'password' = '{password}', 'vector-search.metric' = 'cosine', "
                    f"'weir.allow-net' = '{host}')")
    env.execute_sql("CREATE TEMPORARY VIEW queries AS SELECT * FROM (VALUES "
                    "(1, ARRAY[CAST(1.0 AS FLOAT), CAST(0.0 AS FLOAT), CAST(0.0 AS FLOAT)]), "
                    "(2, ARRAY[CAST(0.0 AS FLOAT), CAST(0.5 AS FLOAT), CAST(1.0 AS FLOAT)])) AS t(qid, q)")
    query = ("SELECT queries.qid, id, score FROM queries, "
             "LATERAL TABLE(VECTOR_SEARCH(TABLE docs, DESCRIPTOR(embedding), queries.q, 2))")
    seen = 0
    with env.execute_sql(query).collect() as rows:
        for row in rows:
            print("hit", row[0], row[1], f"{row[2]:.5f}", flush=True)
            seen += 1
            if seen == 4:
                break


def kafka_sink(jar, src, bootstrap, topic):
    env = env_for(jar, streaming=True, parallelism=2, extra={"execution.checkpointing.interval": "200 ms"})
    env.execute_sql(wasm_files("src", src, "'format' = 'csv'", f"'weir.allow-read' = '{src}'", schema="n BIGINT"))
    env.execute_sql("CREATE TABLE dst (n BIGINT) WITH ('connector' = 'wasm', 'component' = 'kafka', "
                    f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}', 'format' = 'csv', "
                    "'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'flink-bridge', "
                    f"'weir.allow-net' = '{bootstrap}')")
    runtime_ms(env.execute_sql("INSERT INTO dst SELECT * FROM src"))
    print("done", flush=True)


def kafka_source(jar, bootstrap, topic):
    env = env_for(jar, parallelism=2)
    env.execute_sql("CREATE TABLE src (n BIGINT) WITH ('connector' = 'wasm', 'component' = 'kafka', "
                    f"'topic' = '{topic}', 'properties.bootstrap.servers' = '{bootstrap}', 'format' = 'csv', "
                    "'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', "
                    f"'weir.allow-net' = '{bootstrap}')")
    with env.execute_sql("SELECT n FROM src").collect() as rows:
        for row in rows:
            print("n", row[0])


def failover(jar, src, dst, checkpoints, restore=None):
    extra = {
        "execution.checkpointing.interval": "200 ms",
        "execution.checkpointing.dir": "file://" + checkpoints,
        "execution.checkpointing.num-retained": "1000",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
    }
    if restore:
        extra["execution.state-recovery.path"] = "file://" + restore
    env = env_for(jar, streaming=True, parallelism=2, extra=extra)
    env.execute_sql(wasm_files("src", src, "'format' = 'csv', 'csv.null-literal' = ''", f"'weir.allow-read' = '{src}'"))
    env.execute_sql(wasm_files("dst", dst, "'format' = 'json'", f"'weir.allow-write' = '{dst}'"))
    runtime_ms(env.execute_sql("INSERT INTO dst SELECT * FROM src"))
    print("done", flush=True)


def main():
    jar, scenario, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if scenario == "changelog":
        port = serve(b"INSERT|Alice|12\nINSERT|Bob|5\nDELETE|Alice|12\nINSERT|Alice|18\n")
        changelog(jar, port)
    elif scenario == "copy":
        copy(jar, *args)
    elif scenario == "native":
        copy(jar, *args, native=True)
    elif scenario == "denied":
        refused(jar, wasm_files("src", args[0], "'format' = 'csv'", "'weir.allow-read' = '/nowhere'"))
    elif scenario == "bad-option":
        refused(jar, wasm_files("src", args[0], "'format' = 'csv', 'csv.field-delimeter' = ';'",
                                f"'weir.allow-read' = '{args[0]}'"))
    elif scenario == "pushdown":
        pushdown(jar, *args)
    elif scenario == "lookup":
        lookup(jar, *args)
    elif scenario == "third-party":
        third_party(jar, *args)
    elif scenario == "wasm-format":
        wasm_format(jar, *args)
    elif scenario == "arrays":
        arrays(jar, *args)
    elif scenario == "vector-search":
        vector_search(jar, *args)
    elif scenario == "kafka-sink":
        kafka_sink(jar, *args)
    elif scenario == "kafka-source":
        kafka_source(jar, *args)
    elif scenario == "failover":
        failover(jar, *args)
    else:
        sys.exit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
