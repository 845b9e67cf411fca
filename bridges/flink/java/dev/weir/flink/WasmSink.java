package dev.weir.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.table.data.RowData;

/**
 * A Weir sink component on Flink's Sink V2 with a committer: each writer subtask writes through
 * its own sandboxed instances; at a checkpoint the component's {@code prepare-commit} stages the
 * data and returns committables, which Flink keeps in the checkpoint and hands to the committer
 * once the checkpoint completes (and again after a failover: commits are idempotent).
 */
final class WasmSink implements Sink<RowData>, SupportsCommitter<byte[]> {
    private static final long serialVersionUID = 1L;

    /** Rows gathered before they cross to Weir in one batch. */
    private static final int BATCH_ROWS = 4096;

    private final WasmTable table;

    WasmSink(WasmTable table) {
        this.table = table;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) {
        Native.load();
        long restored = context.getRestoredCheckpointId().orElse(0L);
        long writer =
                Native.openWriter(
                        table.ddl,
                        context.getTaskInfo().getIndexOfThisSubtask(),
                        context.getTaskInfo().getNumberOfParallelSubtasks(),
                        restored);
        return new Writer(table, writer, restored);
    }

    @Override
    public Committer<byte[]> createCommitter(CommitterInitContext context) {
        Native.load();
        return new WasmCommitter(Native.openCommitter(table.ddl));
    }

    @Override
    public SimpleVersionedSerializer<byte[]> getCommittableSerializer() {
        return new SimpleVersionedSerializer<byte[]>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(byte[] committable) {
                return committable;
            }

            @Override
            public byte[] deserialize(int version, byte[] serialized) throws IOException {
                if (version != 1) throw new IOException("unknown Weir committable version " + version);
                return serialized;
            }
        };
    }

    static final class Writer implements CommittingSinkWriter<RowData, byte[]> {
        private final Columns.Builder rows;
        private long writer;
        /** The id given to the component's next prepare-commit (after the restored checkpoint's). */
        private long nextId;

        Writer(WasmTable table, long writer, long restored) {
            this.rows = new Columns.Builder(table.rowType);
            this.writer = writer;
            this.nextId = restored + 1;
        }

        @Override
        public void write(RowData row, Context context) {
            rows.add(row);
            if (rows.rows() >= BATCH_ROWS) {
                Native.write(writer, rows.take());
            }
        }

        @Override
        public void flush(boolean endOfInput) {
            if (rows.rows() > 0) {
                Native.write(writer, rows.take());
            }
        }

        @Override
        public Collection<byte[]> prepareCommit() {
            flush(false);
            return new ArrayList<>(Columns.unlist(Native.prepare(writer, nextId++)));
        }

        @Override
        public void close() {
            if (writer != 0) {
                Native.closeWriter(writer);
                writer = 0;
            }
        }
    }

    static final class WasmCommitter implements Committer<byte[]> {
        private long committer;

        WasmCommitter(long committer) {
            this.committer = committer;
        }

        @Override
        public void commit(Collection<CommitRequest<byte[]>> requests) {
            List<byte[]> committables = new ArrayList<>(requests.size());
            for (CommitRequest<byte[]> request : requests) committables.add(request.getCommittable());
            if (!committables.isEmpty()) {
                Native.commit(committer, Columns.list(committables), false);
            }
        }

        @Override
        public void close() {
            if (committer != 0) {
                Native.closeCommitter(committer);
                committer = 0;
            }
        }
    }
}
