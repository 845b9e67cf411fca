package dev.weir.flink;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * Plans the Weir source's splits once (the component's {@code plan}) and hands them out. A
 * bounded source's readers ask for one split at a time, so fast readers take more (as Flink's
 * FileSource does); an unbounded source's splits never end, so each reader is given its share
 * ({@code i % parallelism}) when it registers.
 */
final class WasmEnumerator implements SplitEnumerator<WasmSplit, List<WasmSplit>> {
    private final SplitEnumeratorContext<WasmSplit> context;
    private final WasmTable table;
    private final boolean bounded;
    /** Splits not handed out yet; null until planned. */
    private List<WasmSplit> pending;

    WasmEnumerator(SplitEnumeratorContext<WasmSplit> context, WasmTable table, boolean bounded, List<WasmSplit> restored) {
        this.context = context;
        this.table = table;
        this.bounded = bounded;
        this.pending = restored;
    }

    @Override
    public void start() {
        if (pending != null) {
            return;
        }
        Native.load();
        ByteBuffer in = ByteBuffer.wrap(Native.plan(table.ddl)).order(ByteOrder.LITTLE_ENDIAN);
        int n = in.getInt();
        pending = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] id = new byte[in.getInt()];
            in.get(id);
            byte[] payload = new byte[in.getInt()];
            in.get(payload);
            pending.add(new WasmSplit(new String(id, StandardCharsets.UTF_8), payload, null));
        }
    }

    @Override
    public void handleSplitRequest(int subtask, String hostname) {
        if (!bounded) {
            return;
        }
        if (pending.isEmpty()) {
            context.signalNoMoreSplits(subtask);
        } else {
            context.assignSplit(pending.remove(0), subtask);
        }
    }

    @Override
    public void addSplitsBack(List<WasmSplit> splits, int subtask) {
        pending.addAll(0, splits);
        if (!bounded && context.registeredReaders().containsKey(subtask)) {
            addReader(subtask);
        }
    }

    @Override
    public void addReader(int subtask) {
        if (bounded) {
            return;
        }
        int parallelism = context.currentParallelism();
        for (Iterator<WasmSplit> it = pending.iterator(); it.hasNext(); ) {
            WasmSplit split = it.next();
            if (Math.floorMod(split.id.hashCode(), parallelism) == subtask) {
                context.assignSplit(split, subtask);
                it.remove();
            }
        }
    }

    @Override
    public List<WasmSplit> snapshotState(long checkpointId) {
        return pending == null ? null : new ArrayList<>(pending);
    }

    @Override
    public void close() {}

    /** The enumerator's checkpoint: the splits not handed out yet. */
    static final class StateSerializer implements SimpleVersionedSerializer<List<WasmSplit>> {
        static final StateSerializer INSTANCE = new StateSerializer();

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(List<WasmSplit> splits) throws IOException {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(splits == null ? -1 : splits.size());
            if (splits != null) {
                for (WasmSplit split : splits) WasmSplit.Serializer.write(out, split);
            }
            out.flush();
            return bytes.toByteArray();
        }

        @Override
        public List<WasmSplit> deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown Weir enumerator state version " + version);
            }
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(serialized));
            int n = in.readInt();
            if (n < 0) return null;
            List<WasmSplit> splits = new ArrayList<>(n);
            for (int i = 0; i < n; i++) splits.add(WasmSplit.Serializer.read(in));
            return splits;
        }
    }
}
