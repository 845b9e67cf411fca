package dev.weir.flink;

import java.util.Collection;

import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.LookupFunction;
import org.apache.flink.table.types.logical.RowType;

/**
 * A lookup join's dimension table: a Weir source component with the {@code lookup} ability (jdbc,
 * …), one sandboxed instance per join subtask, asked for the rows of one key at a time.
 */
public final class WasmLookup extends LookupFunction {
    private static final long serialVersionUID = 1L;

    private final WasmTable table;
    private final int[] keys;
    private final RowType keyType;
    private transient Columns.Builder builder;
    private transient long lookup;

    WasmLookup(WasmTable table, int[] keys) {
        this.table = table;
        this.keys = keys;
        java.util.List<RowType.RowField> fields = new java.util.ArrayList<>();
        for (int key : keys) fields.add(table.rowType.getFields().get(key));
        this.keyType = new RowType(fields);
    }

    @Override
    public void open(FunctionContext context) {
        Native.load();
        builder = new Columns.Builder(keyType);
        lookup = Native.openLookup(table.ddl, keys);
    }

    @Override
    public Collection<RowData> lookup(RowData key) {
        builder.add(key);
        return Columns.read(Native.lookup(lookup, builder.take()), 0, table.rowType);
    }

    @Override
    public void close() {
        if (lookup != 0) {
            Native.closeLookup(lookup);
            lookup = 0;
        }
    }
}
