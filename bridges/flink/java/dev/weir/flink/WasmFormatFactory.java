package dev.weir.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.Collector;

/**
 * {@code 'format' = 'wasm'}: a Weir format component inside one of Flink's own connectors.
 *
 * <pre>
 * CREATE TABLE t (...) WITH ('connector' = 'filesystem', 'path' = '...',
 *   'format' = 'wasm', 'wasm.component' = 'csv', 'wasm.field-delimiter' = ';')
 * </pre>
 *
 * Flink hands a format one record at a time, so each record is one call into the component
 * (the {@code 'connector' = 'wasm'} path moves whole batches instead).
 */
public final class WasmFormatFactory implements DeserializationFormatFactory, SerializationFormatFactory {
    static final ConfigOption<String> COMPONENT =
            ConfigOptions.key("component")
                    .stringType()
                    .noDefaultValue()
                    .withDescription("The Weir format: an identifier (csv, json, debezium-json, ...) or a .wasm file.");

    @Override
    public String factoryIdentifier() {
        return "wasm";
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Collections.singleton(COMPONENT);
    }

    /** Every option of every Weir format: Flink checks {@code wasm.*} keys against this list. */
    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        Native.load();
        Set<ConfigOption<?>> options = new LinkedHashSet<>();
        String keys = new String(Native.formatOptions(), StandardCharsets.UTF_8);
        for (String key : keys.split("\n")) {
            if (!key.isEmpty() && !key.equals(COMPONENT.key())) {
                options.add(ConfigOptions.key(key).stringType().noDefaultValue());
            }
        }
        return options;
    }

    /** The format as Weir reads it: a table of the physical columns with the format's options. */
    private static String ddl(DynamicTableFactory.Context context, ReadableConfig formatOptions, RowType type) {
        Map<String, String> options = new LinkedHashMap<>();
        for (Map.Entry<String, String> option : formatOptions.toMap().entrySet()) {
            String key = option.getKey().startsWith("wasm.") ? option.getKey().substring(5) : option.getKey();
            options.put(key, option.getValue());
        }
        return WasmTable.ddl(context.getObjectIdentifier().getObjectName(), type, null, options);
    }

    private static ChangelogMode changelog(String ddl) {
        Native.load();
        byte[] kinds;
        try {
            kinds = Native.describeFormat(ddl);
        } catch (WeirException e) {
            throw new ValidationException(e.getMessage(), e);
        }
        ChangelogMode.Builder mode = ChangelogMode.newBuilder();
        for (byte kind : kinds) mode.addContainedKind(RowKind.fromByteValue(kind));
        return mode.build();
    }

    /** The changelog of the table's format (its options validated by Weir on the way). */
    private static ChangelogMode changelog(DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        RowType type = (RowType) context.getPhysicalRowDataType().getLogicalType();
        return changelog(ddl(context, formatOptions, type));
    }

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        return new DecodingFormat<DeserializationSchema<RowData>>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(DynamicTableSource.Context ctx, DataType physical) {
                RowType type = (RowType) physical.getLogicalType();
                String ddl = ddl(context, formatOptions, type);
                changelog(ddl);
                return new Deserializer(ddl, type, ctx.createTypeInformation(physical));
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return changelog(context, formatOptions);
            }
        };
    }

    @Override
    public EncodingFormat<SerializationSchema<RowData>> createEncodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        return new EncodingFormat<SerializationSchema<RowData>>() {
            @Override
            public SerializationSchema<RowData> createRuntimeEncoder(DynamicTableSink.Context ctx, DataType physical) {
                RowType type = (RowType) physical.getLogicalType();
                String ddl = ddl(context, formatOptions, type);
                changelog(ddl);
                return new Serializer(ddl, type);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return changelog(context, formatOptions);
            }
        };
    }

    static final class Deserializer implements DeserializationSchema<RowData> {
        private static final long serialVersionUID = 1L;
        private final String ddl;
        private final RowType type;
        private final TypeInformation<RowData> info;
        private transient long format;

        Deserializer(String ddl, RowType type, TypeInformation<RowData> info) {
            this.ddl = ddl;
            this.type = type;
            this.info = info;
        }

        @Override
        public void open(InitializationContext context) {
            Native.load();
            format = Native.openFormat(ddl, false);
        }

        @Override
        public RowData deserialize(byte[] message) throws IOException {
            throw new UnsupportedOperationException("a Weir format may make several rows of a record");
        }

        @Override
        public void deserialize(byte[] message, Collector<RowData> out) {
            if (message == null) return;
            for (RowData row : Columns.read(Native.decode(format, message), 0, type)) out.collect(row);
        }

        @Override
        public boolean isEndOfStream(RowData next) {
            return false;
        }

        @Override
        public TypeInformation<RowData> getProducedType() {
            return info;
        }
    }

    static final class Serializer implements SerializationSchema<RowData> {
        private static final long serialVersionUID = 1L;
        private final String ddl;
        private final RowType type;
        private transient long format;
        private transient Columns.Builder builder;

        Serializer(String ddl, RowType type) {
            this.ddl = ddl;
            this.type = type;
        }

        @Override
        public void open(InitializationContext context) {
            Native.load();
            format = Native.openFormat(ddl, true);
            builder = new Columns.Builder(type);
        }

        @Override
        public byte[] serialize(RowData row) {
            builder.add(row);
            List<byte[]> records = Columns.unlist(Native.encode(format, builder.take()));
            return records.isEmpty() ? null : records.get(0);
        }
    }
}
