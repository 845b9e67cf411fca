package dev.weir.flink;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.catalog.UniqueConstraint;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimeType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.logical.VarCharType;

/**
 * A {@code 'connector' = 'wasm'} table as Weir reads it: the physical columns and the {@code WITH}
 * options written back as Flink SQL DDL, which the native side parses with Weir's own SQL front
 * end, so a table means the same in Flink as in {@code weir run}.
 */
final class WasmTable implements Serializable {
    private static final long serialVersionUID = 1L;

    final String name;
    /** The table's DDL, followed by the query pushed into the source, if any. */
    final String ddl;
    /** The physical columns. */
    final RowType rowType;
    /** The columns the source produces: all, or those pushed down. */
    final RowType produced;

    private WasmTable(String name, String ddl, RowType rowType, RowType produced) {
        this.name = name;
        this.ddl = ddl;
        this.rowType = rowType;
        this.produced = produced;
    }

    /**
     * This table read through {@code SELECT columns FROM t [WHERE filters] [LIMIT n]}: what Flink
     * pushed into the source. Weir offers it to the component and applies what the component does
     * not take.
     */
    WasmTable withQuery(int[] columns, java.util.List<String> filters, Long limit) {
        if (columns == null && filters.isEmpty() && limit == null) {
            return this;
        }
        StringBuilder sql = new StringBuilder(";\nSELECT ");
        RowType produced = rowType;
        if (columns == null) {
            sql.append("*");
        } else {
            List<RowType.RowField> fields = new java.util.ArrayList<>();
            for (int i = 0; i < columns.length; i++) {
                RowType.RowField field = rowType.getFields().get(columns[i]);
                fields.add(field);
                sql.append(i == 0 ? "" : ", ").append(quote(field.getName()));
            }
            produced = new RowType(fields);
        }
        sql.append(" FROM ").append(quote(name));
        if (!filters.isEmpty()) sql.append(" WHERE ").append(String.join(" AND ", filters));
        if (limit != null) sql.append(" LIMIT ").append(limit);
        return new WasmTable(name, ddl + sql, rowType, produced);
    }

    WasmTable(String name, ResolvedSchema schema, Map<String, String> options) {
        this.name = name;
        this.rowType = (RowType) schema.toPhysicalRowDataType().getLogicalType();
        this.produced = rowType;
        this.ddl = ddl(name, rowType, schema.getPrimaryKey().map(UniqueConstraint::getColumns).orElse(null), options);
    }

    /** A table of these columns and options, as Flink SQL DDL. */
    static String ddl(String name, RowType rowType, List<String> primaryKey, Map<String, String> options) {
        StringBuilder sql = new StringBuilder("CREATE TABLE ").append(quote(name)).append(" (");
        List<RowType.RowField> fields = rowType.getFields();
        for (int i = 0; i < fields.size(); i++) {
            RowType.RowField field = fields.get(i);
            sql.append(i == 0 ? "" : ", ").append(quote(field.getName())).append(' ').append(type(name, field));
        }
        if (primaryKey != null) {
            sql.append(", PRIMARY KEY (")
                    .append(primaryKey.stream().map(WasmTable::quote).collect(Collectors.joining(", ")))
                    .append(") NOT ENFORCED");
        }
        sql.append(") WITH (");
        boolean first = true;
        for (Map.Entry<String, String> option : options.entrySet()) {
            sql.append(first ? "" : ", ").append(literal(option.getKey())).append(" = ").append(literal(option.getValue()));
            first = false;
        }
        return sql.append(")").toString();
    }

    /** Asks Weir whether the table is valid in this role; Weir's message otherwise. */
    byte[] describe(boolean sink) {
        Native.load();
        try {
            return Native.describe(ddl, sink);
        } catch (WeirException e) {
            throw new ValidationException(e.getMessage(), e);
        }
    }

    static String quote(String name) {
        return "`" + name.replace("`", "``") + "`";
    }

    static String literal(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    /** The column's type in the Flink SQL Weir reads. */
    private static String type(String name, RowType.RowField field) {
        LogicalType type = field.getType();
        String sql;
        switch (type.getTypeRoot()) {
            case BOOLEAN:
            case TINYINT:
            case SMALLINT:
            case INTEGER:
            case BIGINT:
            case FLOAT:
            case DOUBLE:
            case DATE:
                sql = type.copy(true).asSerializableString();
                break;
            case CHAR:
            case VARCHAR:
                int length = type instanceof VarCharType ? ((VarCharType) type).getLength() : Integer.MAX_VALUE;
                sql = length == VarCharType.MAX_LENGTH || !(type instanceof VarCharType) ? "STRING" : "VARCHAR(" + length + ")";
                break;
            case BINARY:
            case VARBINARY:
                sql = "BYTES";
                break;
            case DECIMAL:
                DecimalType decimal = (DecimalType) type;
                sql = "DECIMAL(" + decimal.getPrecision() + ", " + decimal.getScale() + ")";
                break;
            case TIME_WITHOUT_TIME_ZONE:
                sql = "TIME(" + ((TimeType) type).getPrecision() + ")";
                break;
            case TIMESTAMP_WITHOUT_TIME_ZONE:
                sql = "TIMESTAMP(" + ((TimestampType) type).getPrecision() + ")";
                break;
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                sql = "TIMESTAMP_LTZ(" + ((LocalZonedTimestampType) type).getPrecision() + ")";
                break;
            case ARRAY:
                LogicalType element = ((org.apache.flink.table.types.logical.ArrayType) type).getElementType();
                switch (element.getTypeRoot()) {
                    case FLOAT:
                        sql = "ARRAY<FLOAT>";
                        break;
                    case DOUBLE:
                        sql = "ARRAY<DOUBLE>";
                        break;
                    default:
                        throw new ValidationException(
                                "table '" + name + "': column '" + field.getName() + "' has type " + type.asSummaryString()
                                        + "; of arrays the Weir bridge carries ARRAY<FLOAT> and ARRAY<DOUBLE>");
                }
                break;
            default:
                throw new ValidationException(
                        "table '" + name + "': column '" + field.getName() + "' has type " + type.asSummaryString()
                                + ", which the Weir bridge does not carry yet (it carries BOOLEAN, numbers, DECIMAL,"
                                + " STRING, BYTES, DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ,"
                                + " ARRAY<FLOAT> and ARRAY<DOUBLE>)");
        }
        return type.isNullable() ? sql : sql + " NOT NULL";
    }
}
