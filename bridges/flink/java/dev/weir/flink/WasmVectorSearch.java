package dev.weir.flink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.utils.JoinedRowData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.VectorSearchFunction;

/**
 * {@code VECTOR_SEARCH} over a Weir source with the {@code vector-search} ability (jdbc with
 * pgvector, chroma, …): one sandboxed instance per subtask; each result is the table's row followed
 * by its {@code score} (DOUBLE), best first, as Flink's contract asks.
 */
public final class WasmVectorSearch extends VectorSearchFunction {
    private static final long serialVersionUID = 1L;

    private final WasmTable table;
    private final int column;
    private transient long search;

    WasmVectorSearch(WasmTable table, int column) {
        this.table = table;
        this.column = column;
    }

    @Override
    public void open(FunctionContext context) {
        Native.load();
        search = Native.openSearch(table.ddl, column);
    }

    @Override
    public Collection<RowData> vectorSearch(int topK, RowData query) {
        if (query.isNullAt(0)) {
            throw new WeirException("table '" + table.name + "': a NULL query vector cannot be searched");
        }
        ArrayData array = query.getArray(0);
        float[] vector = new float[array.size()];
        for (int i = 0; i < vector.length; i++) {
            if (array.isNullAt(i)) {
                throw new WeirException("table '" + table.name + "': the query vector has a NULL element at " + i);
            }
            vector[i] = array.getFloat(i);
        }
        byte[] found = Native.search(search, vector, topK);
        ByteBuffer in = ByteBuffer.wrap(found).order(ByteOrder.LITTLE_ENDIAN);
        int n = in.getInt();
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) scores[i] = in.getFloat();
        List<RowData> rows = Columns.read(found, 4 + 4 * n, table.rowType);
        List<RowData> out = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            out.add(new JoinedRowData(rows.get(i), GenericRowData.of((double) scores[i])));
        }
        return out;
    }

    @Override
    public void close() {
        if (search != 0) {
            Native.closeSearch(search);
            search = 0;
        }
    }
}
