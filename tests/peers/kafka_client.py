"""The independent Kafka client of the tests: librdkafka (confluent-kafka).

    kafka_client.py create  BOOTSTRAP TOPIC PARTITIONS
    kafka_client.py produce BOOTSTRAP TOPIC [--keyed]   < lines
    kafka_client.py produce-txn BOOTSTRAP TOPIC          < lines
    kafka_client.py consume BOOTSTRAP TOPIC

`produce` sends one record per stdin line (with --keyed, `key|value`, and
the key picks the partition with Java's murmur2, as Kafka's default
partitioner does). `consume` reads every partition from the start until the
topic is quiet and prints `partition<TAB>offset<TAB>key<TAB>value<TAB>timestamp` per record, keys
and values as UTF-8 (`\\N` for null).
"""
import sys

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic


def create(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)]).values():
        future.result()


def produce(bootstrap, topic, keyed):
    producer = ck.Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
    for line in sys.stdin.read().splitlines():
        if keyed:
            key, value = line.split("|", 1)
            producer.produce(topic, key=key.encode(), value=value.encode())
        else:
            producer.produce(topic, value=line.encode())
        producer.poll(0)
    if producer.flush(30) != 0:
        sys.exit("records were not delivered")


def produce_transactions(bootstrap, topic):
    """Lines are record values; a line `--commit` or `--abort` ends a transaction."""
    producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": f"weir-tests-{topic}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for line in sys.stdin.read().splitlines():
        if line in ("--commit", "--abort"):
            producer.flush(30)
            (producer.commit_transaction if line == "--commit" else producer.abort_transaction)(30)
            producer.begin_transaction()
        else:
            producer.produce(topic, value=line.encode(), partition=0)
    producer.abort_transaction(30)


def consume(bootstrap, topic):
    # Reads until the topic is quiet for 3 s rather than up to the high
    # watermarks: Tansu reports a partition's high watermark as the base
    # offset of its last batch + 1, which would cut the last batch short.
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "weir-tests-check",
                            "enable.auto.commit": False, "isolation.level": "read_committed"})
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in meta.partitions])
    out = []
    text = lambda b: "\\N" if b is None else b.decode()
    while True:
        m = consumer.poll(3)
        if m is None:
            break
        if m.error():
            sys.exit(str(m.error()))
        out.append(f"{m.partition()}\t{m.offset()}\t{text(m.key())}\t{text(m.value())}\t{m.timestamp()[1]}")
    consumer.close()
    print("\n".join(out))


def bench_produce(bootstrap, topic, rows, size):
    """Produces `rows` records of `size` bytes; prints rows per second."""
    import time
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 1 << 20,
                            "queue.buffering.max.messages": 1000000})
    value = b"x" * int(size)
    start = time.perf_counter()
    for _ in range(int(rows)):
        while True:
            try:
                producer.produce(topic, value=value)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) != 0:
        sys.exit("records were not delivered")
    print(int(rows) / (time.perf_counter() - start))


def bench_consume(bootstrap, topic, rows):
    """Reads `rows` records from the start of every partition; prints rows per second."""
    import time
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "weir-bench", "enable.auto.commit": False})
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    start = time.perf_counter()
    consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in meta.partitions])
    n = 0
    while n < int(rows):
        for m in consumer.consume(10000, 10):
            if m.error():
                sys.exit(str(m.error()))
            n += 1
    print(n / (time.perf_counter() - start))


def committed(bootstrap, topic, group):
    """Prints `partition<TAB>offset` of the group's committed offsets."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    for tp in consumer.committed([ck.TopicPartition(topic, p) for p in meta.partitions], timeout=10):
        print(f"{tp.partition}\t{tp.offset}")


def watermarks(bootstrap, topic):
    """Prints `partition<TAB>low<TAB>high<TAB>last stable` per partition (the
    last stable offset as a read_committed consumer sees the end)."""
    out = {}
    for level in ("read_uncommitted", "read_committed"):
        consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks", "isolation.level": level})
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10, cached=False)
            out.setdefault(p, [low]).append(high)
        consumer.close()
    for p, (low, high, stable) in sorted(out.items()):
        print(f"{p}\t{low}\t{high}\t{stable}")


if __name__ == "__main__":
    command, bootstrap, topic, *rest = sys.argv[1:]
    if command == "create":
        create(bootstrap, topic, rest[0])
    elif command == "produce":
        produce(bootstrap, topic, "--keyed" in rest)
    elif command == "produce-txn":
        produce_transactions(bootstrap, topic)
    elif command == "consume":
        consume(bootstrap, topic)
    elif command == "watermarks":
        watermarks(bootstrap, topic)
    elif command == "committed":
        committed(bootstrap, topic, rest[0])
    elif command == "bench-produce":
        bench_produce(bootstrap, topic, rest[0], rest[1])
    elif command == "bench-consume":
        bench_consume(bootstrap, topic, rest[0])
    else:
        sys.exit(f"unknown command {command}")
