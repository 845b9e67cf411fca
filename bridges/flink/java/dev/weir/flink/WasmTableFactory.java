package dev.weir.flink;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.LookupTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.connector.source.VectorSearchTableSource;
import org.apache.flink.table.connector.source.search.VectorSearchFunctionProvider;
import org.apache.flink.table.connector.source.abilities.SupportsFilterPushDown;
import org.apache.flink.table.connector.source.abilities.SupportsLimitPushDown;
import org.apache.flink.table.connector.source.abilities.SupportsProjectionPushDown;
import org.apache.flink.table.connector.source.lookup.LookupFunctionProvider;
import org.apache.flink.table.expressions.ResolvedExpression;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.types.RowKind;

/**
 * {@code 'connector' = 'wasm'}: any Weir connector component as a Flink table, sandboxed.
 *
 * <pre>
 * CREATE TABLE t (...) WITH (
 *   'connector' = 'wasm',
 *   'component' = 'filesystem',            -- a Weir identifier, or '/path/to/connector.wasm'
 *   'path' = '/data/in', 'format' = 'csv', -- the component's own options, validated by Weir
 *   'weir.allow-read' = '/data/in')        -- what the operator grants it
 * </pre>
 *
 * The component's options are validated by its spec in Weir (unknown keys refused with "did you
 * mean"), and its capabilities are checked against the {@code weir.*} grants when the job is
 * planned; a failure is a {@link ValidationException} carrying Weir's message.
 */
public final class WasmTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
    public static final String IDENTIFIER = "wasm";

    static final ConfigOption<String> COMPONENT =
            ConfigOptions.key("component")
                    .stringType()
                    .noDefaultValue()
                    .withDescription("The Weir component: an identifier (filesystem, kafka, ...) or a .wasm file.");

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Collections.singleton(COMPONENT);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        // The component's own options and the weir.* grants: Weir validates them.
        return Collections.emptySet();
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        WasmTable table = table(context);
        byte[] described = table.describe(false);
        return new TableSource(table, described[0] == 1, changelog(described), parallelism(context, "scan.parallelism"));
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        WasmTable table = table(context);
        byte[] described = table.describe(true);
        return new TableSink(table, changelog(described), parallelism(context, "sink.parallelism"));
    }

    private static WasmTable table(Context context) {
        Map<String, String> options = context.getCatalogTable().getOptions();
        if (!options.containsKey(COMPONENT.key())) {
            throw new ValidationException(
                    "table '" + context.getObjectIdentifier().getObjectName()
                            + "' has 'connector' = 'wasm' but no 'component': name a Weir connector ('component' ="
                            + " 'filesystem') or a component file ('component' = '/path/to/connector.wasm')");
        }
        return new WasmTable(
                context.getObjectIdentifier().getObjectName(), context.getCatalogTable().getResolvedSchema(), options);
    }

    private static Integer parallelism(Context context, String key) {
        String value = context.getCatalogTable().getOptions().get(key);
        if (value == null) return null;
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new ValidationException("'" + key + "' must be a whole number, not '" + value + "'");
        }
    }

    private static ChangelogMode changelog(byte[] described) {
        ChangelogMode.Builder mode = ChangelogMode.newBuilder();
        for (int i = 1; i < described.length; i++) mode.addContainedKind(RowKind.fromByteValue(described[i]));
        return mode.build();
    }

    /**
     * A Weir source as Flink's scan (and lookup) source. Projection, filters and a limit Flink
     * pushes down are handed to Weir's scan, which offers them to the component and applies what it
     * does not take; so every filter Weir can express is accepted.
     */
    static final class TableSource
            implements ScanTableSource,
                    LookupTableSource,
                    SupportsProjectionPushDown,
                    SupportsFilterPushDown,
                    SupportsLimitPushDown,
                    VectorSearchTableSource {
        private final WasmTable table;
        private final boolean bounded;
        private final ChangelogMode mode;
        private final Integer parallelism;
        private int[] projection;
        private List<String> filters = new ArrayList<>();
        private Long limit;

        TableSource(WasmTable table, boolean bounded, ChangelogMode mode, Integer parallelism) {
            this.table = table;
            this.bounded = bounded;
            this.mode = mode;
            this.parallelism = parallelism;
        }

        @Override
        public ChangelogMode getChangelogMode() {
            return mode;
        }

        @Override
        public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
            return SourceProvider.of(new WasmSource(table.withQuery(projection, filters, limit), bounded), parallelism);
        }

        @Override
        public boolean supportsNestedProjection() {
            return false;
        }

        @Override
        public void applyProjection(int[][] projected, DataType producedDataType) {
            projection = new int[projected.length];
            for (int i = 0; i < projected.length; i++) projection[i] = projected[i][0];
        }

        @Override
        public Result applyFilters(List<ResolvedExpression> given) {
            List<ResolvedExpression> accepted = new ArrayList<>();
            List<ResolvedExpression> remaining = new ArrayList<>();
            for (ResolvedExpression filter : given) {
                String sql = Filters.toSql(filter);
                if (sql == null) {
                    remaining.add(filter);
                } else {
                    accepted.add(filter);
                    filters.add(sql);
                }
            }
            return Result.of(accepted, remaining);
        }

        @Override
        public void applyLimit(long limit) {
            this.limit = limit;
        }

        @Override
        public LookupRuntimeProvider getLookupRuntimeProvider(LookupContext context) {
            int[][] paths = context.getKeys();
            int[] keys = new int[paths.length];
            for (int i = 0; i < paths.length; i++) {
                if (paths[i].length != 1) {
                    throw new ValidationException(
                            "table '" + table.name + "': a lookup key inside a nested column is not supported");
                }
                keys[i] = paths[i][0];
            }
            return LookupFunctionProvider.of(new WasmLookup(table, keys));
        }

        @Override
        public VectorSearchRuntimeProvider getSearchRuntimeProvider(VectorSearchContext context) {
            int[][] columns = context.getSearchColumns();
            if (columns.length != 1 || columns[0].length != 1) {
                throw new ValidationException(
                        "table '" + table.name + "': VECTOR_SEARCH over Weir searches one top-level ARRAY<FLOAT> column");
            }
            return VectorSearchFunctionProvider.of(new WasmVectorSearch(table, columns[0][0]));
        }

        @Override
        public DynamicTableSource copy() {
            TableSource copy = new TableSource(table, bounded, mode, parallelism);
            copy.projection = projection == null ? null : projection.clone();
            copy.filters = new ArrayList<>(filters);
            copy.limit = limit;
            return copy;
        }

        @Override
        public String asSummaryString() {
            return "Weir wasm source";
        }
    }

    static final class TableSink implements DynamicTableSink {
        private final WasmTable table;
        private final ChangelogMode mode;
        private final Integer parallelism;

        TableSink(WasmTable table, ChangelogMode mode, Integer parallelism) {
            this.table = table;
            this.mode = mode;
            this.parallelism = parallelism;
        }

        @Override
        public ChangelogMode getChangelogMode(ChangelogMode requested) {
            return mode;
        }

        @Override
        public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
            return SinkV2Provider.of(new WasmSink(table), parallelism);
        }

        @Override
        public DynamicTableSink copy() {
            return new TableSink(table, mode, parallelism);
        }

        @Override
        public String asSummaryString() {
            return "Weir wasm sink";
        }
    }
}
