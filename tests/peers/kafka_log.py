"""An independent reader of a Kafka topic's *committed* records, for
exactly-once checks against Tansu.

Tansu sends no aborted-transaction list in Fetch responses, so a
`read_committed` consumer such as librdkafka also returns records of
aborted transactions. This script speaks the protocol itself (Fetch v4,
record batch v2, from the Kafka protocol documentation) and applies the
transaction markers found in the log: records of a transactional producer
are held until its control record says commit (kept) or abort (dropped);
records of a transaction with no marker yet are not committed.

    kafka_log.py BOOTSTRAP TOPIC PARTITIONS [--batches]

prints the committed record values, one per line (UTF-8), partition by
partition in offset order; with --batches only `batches<TAB>records`, the
number of data record batches in the log and of records in them.
"""
import socket
import struct
import sys
import zlib


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1), i  # zigzag


class Broker:
    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.correlation = 0

    def call(self, api_key, version, body):
        self.correlation += 1
        client = b"kafka-log-check"
        header = struct.pack(">hhih", api_key, version, self.correlation, len(client)) + client
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", self.read(4))[0]
        data = self.read(size)
        assert struct.unpack(">i", data[:4])[0] == self.correlation
        return data[4:]

    def read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise SystemExit("broker closed the connection")
            out += chunk
        return out


def fetch(broker, topic, partition, offset):
    """Fetch v4: the partition's record bytes from `offset` (read_uncommitted)."""
    t = topic.encode()
    body = struct.pack(">iiiib", -1, 500, 1, 8 << 20, 0)  # replica, max wait, min bytes, max bytes, isolation
    body += struct.pack(">ih", 1, len(t)) + t + struct.pack(">iiqi", 1, partition, offset, 8 << 20)
    r = broker.call(1, 4, body)
    i = 4  # throttle
    (topics,) = struct.unpack_from(">i", r, i)
    i += 4
    assert topics == 1
    (n,) = struct.unpack_from(">h", r, i)
    i += 2 + n
    (parts,) = struct.unpack_from(">i", r, i)
    i += 4
    assert parts == 1
    _, error, _hw, _lso = struct.unpack_from(">ihqq", r, i)
    i += 4 + 2 + 8 + 8
    if error:
        raise SystemExit(f"fetch error {error}")
    (aborted,) = struct.unpack_from(">i", r, i)
    i += 4 + max(aborted, 0) * 16
    (size,) = struct.unpack_from(">i", r, i)
    i += 4
    return r[i : i + max(size, 0)]


def batches(data):
    """(base offset, last offset, attributes, producer id, records bytes, count) per complete batch."""
    i = 0
    while i + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, i)
        if i + 12 + length > len(data):
            break
        b = data[i : i + 12 + length]
        (attributes,) = struct.unpack_from(">h", b, 21)
        (last_delta,) = struct.unpack_from(">i", b, 23)
        (producer,) = struct.unpack_from(">q", b, 43)
        (count,) = struct.unpack_from(">i", b, 57)
        records = b[61:]
        codec = attributes & 7
        if codec == 1:
            records = zlib.decompress(records, 47)
        elif codec != 0:
            raise SystemExit(f"compression codec {codec} is not handled by this checker")
        yield base, base + last_delta, attributes, producer, records, count
        i += 12 + length


def records(raw, count):
    i = 0
    for _ in range(count):
        length, i = varint(raw, i)
        end = i + length
        i += 1  # attributes
        _, i = varint(raw, i)  # timestamp delta
        delta, i = varint(raw, i)
        klen, i = varint(raw, i)
        key = raw[i : i + klen] if klen >= 0 else None
        i += max(klen, 0)
        vlen, i = varint(raw, i)
        value = raw[i : i + vlen] if vlen >= 0 else None
        i = end
        yield delta, key, value


STATS = {"batches": 0, "records": 0}


def committed(broker, topic, partition):
    offset, out, pending = 0, [], {}
    while True:
        data = fetch(broker, topic, partition, offset)
        progressed = False
        for base, last, attributes, producer, raw, count in batches(data):
            if last < offset:
                continue
            progressed = True
            transactional, control = attributes & 0x10, attributes & 0x20
            if not control:
                STATS["batches"] += 1
                STATS["records"] += count
            for delta, key, value in records(raw, count):
                if base + delta < offset:
                    continue
                if control:
                    kind = struct.unpack(">h", key[2:4])[0]
                    held = pending.pop(producer, [])
                    if kind == 1:
                        out.extend(held)
                elif transactional:
                    pending.setdefault(producer, []).append(value)
                else:
                    out.append(value)
            offset = last + 1
        if not progressed:
            return out


if __name__ == "__main__":
    address, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    broker = Broker(address)
    values = [v for p in range(partitions) for v in committed(broker, topic, p)]
    if "--batches" in sys.argv:
        print(f"{STATS['batches']}\t{STATS['records']}")
    else:
        for value in values:
            print(value.decode())
