package dev.weir.flink;

import java.math.BigDecimal;
import java.util.List;
import java.util.Optional;

import org.apache.flink.table.expressions.CallExpression;
import org.apache.flink.table.expressions.FieldReferenceExpression;
import org.apache.flink.table.expressions.ResolvedExpression;
import org.apache.flink.table.expressions.ValueLiteralExpression;
import org.apache.flink.table.functions.BuiltInFunctionDefinitions;
import org.apache.flink.table.functions.FunctionDefinition;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * Flink's pushed-down filters as the WHERE clause Weir reads: a comparison of a column with a
 * literal ({@code =, <>, <, <=, >, >=}) or {@code IS [NOT] NULL}, on integer, floating-point,
 * string and boolean columns. Anything else stays with Flink.
 */
final class Filters {
    private Filters() {}

    /** The filter as Weir SQL, or null when Weir does not take it. */
    static String toSql(ResolvedExpression expression) {
        if (expression instanceof FieldReferenceExpression) {
            // A BOOLEAN column as the filter itself (Flink's form of `flag = TRUE`).
            FieldReferenceExpression field = (FieldReferenceExpression) expression;
            boolean bool = field.getOutputDataType().getLogicalType().getTypeRoot()
                    == org.apache.flink.table.types.logical.LogicalTypeRoot.BOOLEAN;
            return bool ? WasmTable.quote(field.getName()) + " = TRUE" : null;
        }
        if (!(expression instanceof CallExpression)) return null;
        CallExpression call = (CallExpression) expression;
        FunctionDefinition f = call.getFunctionDefinition();
        List<ResolvedExpression> args = call.getResolvedChildren();
        if (args.size() == 1 && args.get(0) instanceof FieldReferenceExpression) {
            FieldReferenceExpression field = (FieldReferenceExpression) args.get(0);
            if (!supported(field.getOutputDataType().getLogicalType())) return null;
            if (f == BuiltInFunctionDefinitions.NOT
                    && field.getOutputDataType().getLogicalType().getTypeRoot()
                            == org.apache.flink.table.types.logical.LogicalTypeRoot.BOOLEAN) {
                return WasmTable.quote(field.getName()) + " = FALSE";
            }
            if (f == BuiltInFunctionDefinitions.IS_NULL) return WasmTable.quote(field.getName()) + " IS NULL";
            if (f == BuiltInFunctionDefinitions.IS_NOT_NULL) return WasmTable.quote(field.getName()) + " IS NOT NULL";
            return null;
        }
        if (args.size() != 2) return null;
        String op = operator(f);
        if (op == null) return null;
        FieldReferenceExpression field;
        ValueLiteralExpression literal;
        if (args.get(0) instanceof FieldReferenceExpression && args.get(1) instanceof ValueLiteralExpression) {
            field = (FieldReferenceExpression) args.get(0);
            literal = (ValueLiteralExpression) args.get(1);
        } else if (args.get(1) instanceof FieldReferenceExpression && args.get(0) instanceof ValueLiteralExpression) {
            field = (FieldReferenceExpression) args.get(1);
            literal = (ValueLiteralExpression) args.get(0);
            op = flip(op);
        } else {
            return null;
        }
        LogicalType type = field.getOutputDataType().getLogicalType();
        if (!supported(type)) return null;
        String value = value(literal, type);
        return value == null ? null : WasmTable.quote(field.getName()) + " " + op + " " + value;
    }

    private static boolean supported(LogicalType type) {
        switch (type.getTypeRoot()) {
            case TINYINT:
            case SMALLINT:
            case INTEGER:
            case BIGINT:
            case FLOAT:
            case DOUBLE:
            case CHAR:
            case VARCHAR:
            case BOOLEAN:
                return true;
            default:
                return false;
        }
    }

    private static String operator(FunctionDefinition f) {
        if (f == BuiltInFunctionDefinitions.EQUALS) return "=";
        if (f == BuiltInFunctionDefinitions.NOT_EQUALS) return "<>";
        if (f == BuiltInFunctionDefinitions.LESS_THAN) return "<";
        if (f == BuiltInFunctionDefinitions.LESS_THAN_OR_EQUAL) return "<=";
        if (f == BuiltInFunctionDefinitions.GREATER_THAN) return ">";
        if (f == BuiltInFunctionDefinitions.GREATER_THAN_OR_EQUAL) return ">=";
        return null;
    }

    private static String flip(String op) {
        switch (op) {
            case "<": return ">";
            case "<=": return ">=";
            case ">": return "<";
            case ">=": return "<=";
            default: return op;
        }
    }

    /** The literal as SQL, when its kind matches the column's. */
    private static String value(ValueLiteralExpression literal, LogicalType column) {
        if (literal.isNull()) return null;
        switch (column.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                Optional<String> text = literal.getValueAs(String.class);
                return text.map(WasmTable::literal).orElse(null);
            case BOOLEAN:
                return literal.getValueAs(Boolean.class).map(b -> b ? "TRUE" : "FALSE").orElse(null);
            default:
                Optional<BigDecimal> number = literal.getValueAs(BigDecimal.class);
                if (!number.isPresent()) return null;
                return number.get().toPlainString();
        }
    }
}
