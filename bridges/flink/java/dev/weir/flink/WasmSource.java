package dev.weir.flink;

import java.util.List;

import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.table.data.RowData;

/** A Weir source component as a FLIP-27 source. */
final class WasmSource implements Source<RowData, WasmSplit, List<WasmSplit>> {
    private static final long serialVersionUID = 1L;

    private final WasmTable table;
    private final boolean bounded;

    WasmSource(WasmTable table, boolean bounded) {
        this.table = table;
        this.bounded = bounded;
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<RowData, WasmSplit> createReader(SourceReaderContext context) {
        return new WasmSourceReader(context, table, bounded);
    }

    @Override
    public SplitEnumerator<WasmSplit, List<WasmSplit>> createEnumerator(SplitEnumeratorContext<WasmSplit> context) {
        return new WasmEnumerator(context, table, bounded, null);
    }

    @Override
    public SplitEnumerator<WasmSplit, List<WasmSplit>> restoreEnumerator(
            SplitEnumeratorContext<WasmSplit> context, List<WasmSplit> checkpoint) {
        return new WasmEnumerator(context, table, bounded, checkpoint);
    }

    @Override
    public SimpleVersionedSerializer<WasmSplit> getSplitSerializer() {
        return WasmSplit.Serializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<List<WasmSplit>> getEnumeratorCheckpointSerializer() {
        return WasmEnumerator.StateSerializer.INSTANCE;
    }
}
