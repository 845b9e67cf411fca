package dev.weir.flink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.table.data.RowData;

/**
 * One reader subtask: its own sandboxed source (and format) instances reading the splits the
 * enumerator gives it. A batch is emitted whole within one {@code pollNext}, so a checkpoint —
 * taken between calls — covers exactly the rows emitted.
 */
final class WasmSourceReader implements SourceReader<RowData, WasmSplit> {
    private final SourceReaderContext context;
    private final WasmTable table;
    private final boolean bounded;
    /** Splits given and not finished, by id, with their last known state. */
    private final Map<String, WasmSplit> assigned = new LinkedHashMap<>();
    private long reader;
    private boolean noMoreSplits;
    private boolean requested;
    private CompletableFuture<Void> available = new CompletableFuture<>();

    WasmSourceReader(SourceReaderContext context, WasmTable table, boolean bounded) {
        this.context = context;
        this.table = table;
        this.bounded = bounded;
    }

    @Override
    public void start() {
        open();
        request();
    }

    /** The native reader; Flink gives a restored reader its splits before {@code start}. */
    private long open() {
        if (reader == 0) {
            Native.load();
            reader = Native.openReader(table.ddl);
        }
        return reader;
    }

    private void request() {
        if (bounded && !requested && !noMoreSplits) {
            requested = true;
            context.sendSplitRequest();
        }
    }

    @Override
    public InputStatus pollNext(ReaderOutput<RowData> output) {
        if (assigned.isEmpty()) {
            if (noMoreSplits) return InputStatus.END_OF_INPUT;
            request();
            return wait(false);
        }
        byte[] step = Native.next(reader);
        switch (step[0]) {
            case 0:
                for (RowData row : Columns.read(step, 1, table.produced)) output.collect(row);
                return InputStatus.MORE_AVAILABLE;
            case 1:
                return wait(true);
            default:
                // Every split given was read to its end.
                assigned.clear();
                if (noMoreSplits) return InputStatus.END_OF_INPUT;
                request();
                return wait(false);
        }
    }

    /** Nothing now: available again on new splits, or soon for an idle unbounded source. */
    private InputStatus wait(boolean idle) {
        if (available.isDone()) available = new CompletableFuture<>();
        if (idle) {
            CompletableFuture<Void> soon = available;
            CompletableFuture.delayedExecutor(10, TimeUnit.MILLISECONDS).execute(() -> soon.complete(null));
        }
        return InputStatus.NOTHING_AVAILABLE;
    }

    @Override
    public List<WasmSplit> snapshotState(long checkpointId) {
        ByteBuffer in = ByteBuffer.wrap(Native.checkpoint(reader)).order(ByteOrder.LITTLE_ENDIAN);
        Map<String, byte[]> reading = new HashMap<>();
        int n = in.getInt();
        for (int i = 0; i < n; i++) {
            byte[] id = new byte[in.getInt()];
            in.get(id);
            boolean open = in.get() == 1;
            byte[] state = new byte[in.getInt()];
            in.get(state);
            String key = new String(id, StandardCharsets.UTF_8);
            if (open) {
                reading.put(key, state);
            } else {
                assigned.remove(key);
            }
        }
        List<WasmSplit> splits = new ArrayList<>(assigned.size());
        for (WasmSplit split : assigned.values()) {
            byte[] state = reading.get(split.id);
            splits.add(state == null ? split : split.withState(state));
        }
        return splits;
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        return available;
    }

    @Override
    public void addSplits(List<WasmSplit> splits) {
        for (WasmSplit split : splits) {
            Native.addSplit(open(), split.id, split.payload, split.state);
            assigned.put(split.id, split);
        }
        requested = false;
        available.complete(null);
    }

    @Override
    public void notifyNoMoreSplits() {
        noMoreSplits = true;
        available.complete(null);
    }

    @Override
    public void close() {
        if (reader != 0) {
            Native.closeReader(reader);
            reader = 0;
        }
    }
}
