package dev.weir.flink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.types.RowKind;

/**
 * Batches across the JNI boundary, column by column (the layout is documented in
 * bridges/flink/native/src/columns.rs): one byte array per batch, so no JNI call per value.
 */
final class Columns {
    private Columns() {}

    /** Rows of a batch from Weir. */
    static List<RowData> read(byte[] bytes, int offset, RowType type) {
        ByteBuffer in = ByteBuffer.wrap(bytes, offset, bytes.length - offset).slice().order(ByteOrder.LITTLE_ENDIAN);
        int rows = in.getInt();
        byte[] kinds = null;
        if (in.get() == 1) {
            kinds = new byte[rows];
            in.get(kinds);
        }
        int columns = type.getFieldCount();
        GenericRowData[] out = new GenericRowData[rows];
        for (int r = 0; r < rows; r++) {
            out[r] = new GenericRowData(kinds == null ? RowKind.INSERT : RowKind.fromByteValue(kinds[r]), columns);
        }
        for (int c = 0; c < columns; c++) {
            byte[] valid = null;
            if (in.get() == 1) {
                valid = new byte[(rows + 7) / 8];
                in.get(valid);
            }
            LogicalType t = type.getTypeAt(c);
            switch (t.getTypeRoot()) {
                case BOOLEAN:
                    for (int r = 0; r < rows; r++) {
                        boolean v = in.get() != 0;
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case TINYINT:
                    for (int r = 0; r < rows; r++) {
                        byte v = in.get();
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case SMALLINT:
                    for (int r = 0; r < rows; r++) {
                        short v = in.getShort();
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case INTEGER:
                case DATE:
                case TIME_WITHOUT_TIME_ZONE:
                    for (int r = 0; r < rows; r++) {
                        int v = in.getInt();
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case BIGINT:
                    for (int r = 0; r < rows; r++) {
                        long v = in.getLong();
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case FLOAT:
                    for (int r = 0; r < rows; r++) {
                        float v = in.getFloat();
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case DOUBLE:
                    for (int r = 0; r < rows; r++) {
                        double v = in.getDouble();
                        if (isValid(valid, r)) out[r].setField(c, v);
                    }
                    break;
                case TIMESTAMP_WITHOUT_TIME_ZONE:
                case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                    int p = precision(t);
                    for (int r = 0; r < rows; r++) {
                        long v = in.getLong();
                        if (isValid(valid, r)) out[r].setField(c, timestamp(v, p));
                    }
                    break;
                case DECIMAL:
                    DecimalType d = (DecimalType) t;
                    byte[] le = new byte[16];
                    for (int r = 0; r < rows; r++) {
                        in.get(le);
                        if (isValid(valid, r)) {
                            byte[] be = new byte[16];
                            for (int i = 0; i < 16; i++) be[i] = le[15 - i];
                            out[r].setField(c, DecimalData.fromUnscaledBytes(be, d.getPrecision(), d.getScale()));
                        }
                    }
                    break;
                case CHAR:
                case VARCHAR:
                case BINARY:
                case VARBINARY:
                    int[] offsets = new int[rows + 1];
                    for (int r = 0; r <= rows; r++) offsets[r] = in.getInt();
                    byte[] data = new byte[offsets[rows]];
                    in.get(data);
                    boolean text = isText(t);
                    for (int r = 0; r < rows; r++) {
                        if (!isValid(valid, r)) continue;
                        int from = offsets[r], len = offsets[r + 1] - offsets[r];
                        out[r].setField(c, text ? StringData.fromBytes(data, from, len) : Arrays.copyOfRange(data, from, from + len));
                    }
                    break;
                case ARRAY:
                    boolean floats = floatElements(t);
                    int[] bounds = new int[rows + 1];
                    for (int r = 0; r <= rows; r++) bounds[r] = in.getInt();
                    int n = bounds[rows];
                    byte[] elementValid = null;
                    if (in.get() == 1) {
                        elementValid = new byte[(n + 7) / 8];
                        in.get(elementValid);
                    }
                    Object[] all = new Object[n];
                    for (int i = 0; i < n; i++) {
                        Object v = floats ? (Object) in.getFloat() : (Object) in.getDouble();
                        all[i] = isValid(elementValid, i) ? v : null;
                    }
                    for (int r = 0; r < rows; r++) {
                        if (!isValid(valid, r)) continue;
                        out[r].setField(c, new org.apache.flink.table.data.GenericArrayData(
                                Arrays.copyOfRange(all, bounds[r], bounds[r + 1])));
                    }
                    break;
                default:
                    throw new WeirException("column " + c + " has a type the bridge does not carry: " + t);
            }
        }
        return Arrays.asList(out);
    }

    private static boolean isValid(byte[] valid, int r) {
        return valid == null || (valid[r >>> 3] & (1 << (r & 7))) != 0;
    }

    static int precision(LogicalType t) {
        return t instanceof TimestampType
                ? ((TimestampType) t).getPrecision()
                : ((LocalZonedTimestampType) t).getPrecision();
    }

    /** A timestamp in the unit of precision p (0: s, 1-3: ms, 4-6: us, 7-9: ns). */
    static TimestampData timestamp(long v, int p) {
        if (p == 0) return TimestampData.fromEpochMillis(v * 1000);
        if (p <= 3) return TimestampData.fromEpochMillis(v);
        if (p <= 6) return TimestampData.fromEpochMillis(Math.floorDiv(v, 1000), (int) Math.floorMod(v, 1000) * 1000);
        return TimestampData.fromEpochMillis(Math.floorDiv(v, 1_000_000), (int) Math.floorMod(v, 1_000_000));
    }

    static long units(TimestampData ts, int p) {
        long ms = ts.getMillisecond();
        int nanos = ts.getNanoOfMillisecond();
        if (p == 0) return Math.floorDiv(ms, 1000);
        if (p <= 3) return ms;
        if (p <= 6) return ms * 1000 + nanos / 1000;
        return ms * 1_000_000 + nanos;
    }

    /** Rows for Weir, gathered column by column as they arrive. */
    static final class Builder {
        private final RowType type;
        private final Growable kinds = new Growable(1024);
        private final Growable[] values;
        private final Growable[] validity;
        private final int[][] offsets;
        private final boolean[] hasNulls;
        /** ARRAY columns: element validity (one bit per element) and element count. */
        private final Growable[] elementValidity;
        private final int[] elements;
        private final boolean[] elementNulls;
        private int rows;

        Builder(RowType type) {
            this.type = type;
            int n = type.getFieldCount();
            values = new Growable[n];
            validity = new Growable[n];
            offsets = new int[n][];
            hasNulls = new boolean[n];
            elementValidity = new Growable[n];
            elements = new int[n];
            elementNulls = new boolean[n];
            for (int c = 0; c < n; c++) {
                values[c] = new Growable(4096);
                validity[c] = new Growable(64);
                if (isVar(type.getTypeAt(c))) offsets[c] = new int[1025];
                if (type.getTypeAt(c).getTypeRoot() == LogicalTypeRoot.ARRAY) {
                    offsets[c] = new int[1025];
                    elementValidity[c] = new Growable(64);
                }
            }
        }

        int rows() {
            return rows;
        }

        void add(RowData row) {
            kinds.put(row.getRowKind().toByteValue());
            for (int c = 0; c < values.length; c++) {
                boolean isNull = row.isNullAt(c);
                if ((rows & 7) == 0) validity[c].put((byte) 0);
                if (isNull) {
                    hasNulls[c] = true;
                } else {
                    validity[c].orLast((byte) (1 << (rows & 7)));
                }
                LogicalType t = type.getTypeAt(c);
                Growable out = values[c];
                switch (t.getTypeRoot()) {
                    case BOOLEAN: out.put((byte) (!isNull && row.getBoolean(c) ? 1 : 0)); break;
                    case TINYINT: out.put(isNull ? 0 : row.getByte(c)); break;
                    case SMALLINT: out.putShort(isNull ? 0 : row.getShort(c)); break;
                    case INTEGER:
                    case DATE:
                    case TIME_WITHOUT_TIME_ZONE: out.putInt(isNull ? 0 : row.getInt(c)); break;
                    case BIGINT: out.putLong(isNull ? 0 : row.getLong(c)); break;
                    case FLOAT: out.putInt(Float.floatToRawIntBits(isNull ? 0 : row.getFloat(c))); break;
                    case DOUBLE: out.putLong(Double.doubleToRawLongBits(isNull ? 0 : row.getDouble(c))); break;
                    case TIMESTAMP_WITHOUT_TIME_ZONE:
                    case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                        int p = precision(t);
                        out.putLong(isNull ? 0 : units(row.getTimestamp(c, p), p));
                        break;
                    case DECIMAL:
                        DecimalType d = (DecimalType) t;
                        byte[] be = isNull ? new byte[0] : row.getDecimal(c, d.getPrecision(), d.getScale()).toUnscaledBytes();
                        byte sign = be.length > 0 && be[0] < 0 ? (byte) -1 : 0;
                        for (int i = 0; i < 16; i++) out.put(i < be.length ? be[be.length - 1 - i] : sign);
                        break;
                    case CHAR:
                    case VARCHAR:
                    case BINARY:
                    case VARBINARY:
                        if (!isNull) {
                            boolean text = isText(t);
                            out.put(text ? row.getString(c).toBytes() : row.getBinary(c));
                        }
                        if (offsets[c].length <= rows + 1) offsets[c] = Arrays.copyOf(offsets[c], offsets[c].length * 2);
                        offsets[c][rows + 1] = out.size();
                        break;
                    case ARRAY:
                        boolean floats = floatElements(t);
                        if (!isNull) {
                            org.apache.flink.table.data.ArrayData array = row.getArray(c);
                            for (int i = 0; i < array.size(); i++) {
                                boolean nullElement = array.isNullAt(i);
                                if ((elements[c] & 7) == 0) elementValidity[c].put((byte) 0);
                                if (nullElement) {
                                    elementNulls[c] = true;
                                } else {
                                    elementValidity[c].orLast((byte) (1 << (elements[c] & 7)));
                                }
                                if (floats) out.putInt(Float.floatToRawIntBits(nullElement ? 0 : array.getFloat(i)));
                                else out.putLong(Double.doubleToRawLongBits(nullElement ? 0 : array.getDouble(i)));
                                elements[c]++;
                            }
                        }
                        if (offsets[c].length <= rows + 1) offsets[c] = Arrays.copyOf(offsets[c], offsets[c].length * 2);
                        offsets[c][rows + 1] = elements[c];
                        break;
                    default:
                        throw new WeirException("column " + c + " has a type the bridge does not carry: " + t);
                }
            }
            rows++;
        }

        /** The batch's bytes; the builder starts over. */
        byte[] take() {
            int size = 5 + rows;
            for (int c = 0; c < values.length; c++) {
                size += 1 + validity[c].size() + values[c].size() + (offsets[c] != null ? 4 * (rows + 1) : 0);
                if (elementValidity[c] != null) size += 1 + elementValidity[c].size();
            }
            ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
            out.putInt(rows);
            out.put((byte) 1);
            out.put(kinds.bytes, 0, rows);
            for (int c = 0; c < values.length; c++) {
                out.put((byte) (hasNulls[c] ? 1 : 0));
                if (hasNulls[c]) out.put(validity[c].bytes, 0, (rows + 7) / 8);
                if (offsets[c] != null) {
                    for (int r = 0; r <= rows; r++) out.putInt(offsets[c][r]);
                }
                if (elementValidity[c] != null) {
                    out.put((byte) (elementNulls[c] ? 1 : 0));
                    if (elementNulls[c]) out.put(elementValidity[c].bytes, 0, (elements[c] + 7) / 8);
                    elementValidity[c].clear();
                    elementNulls[c] = false;
                    elements[c] = 0;
                }
                out.put(values[c].bytes, 0, values[c].size());
                values[c].clear();
                validity[c].clear();
                hasNulls[c] = false;
            }
            kinds.clear();
            rows = 0;
            return out.array();
        }

        private static boolean isVar(LogicalType t) {
            return isText(t) || t.getTypeRoot() == LogicalTypeRoot.BINARY || t.getTypeRoot() == LogicalTypeRoot.VARBINARY;
        }
    }

    /** CHAR / VARCHAR: bytes that are UTF-8 text. */
    private static boolean isText(LogicalType t) {
        return t.getTypeRoot() == LogicalTypeRoot.CHAR || t.getTypeRoot() == LogicalTypeRoot.VARCHAR;
    }

    /** ARRAY&lt;FLOAT&gt; (else ARRAY&lt;DOUBLE&gt;, the other array the bridge carries). */
    private static boolean floatElements(LogicalType t) {
        return ((org.apache.flink.table.types.logical.ArrayType) t).getElementType().getTypeRoot() == LogicalTypeRoot.FLOAT;
    }

    /** A little-endian byte buffer that grows. */
    static final class Growable {
        byte[] bytes;
        private int size;

        Growable(int capacity) {
            bytes = new byte[capacity];
        }

        int size() {
            return size;
        }

        void clear() {
            size = 0;
        }

        private void room(int n) {
            if (size + n > bytes.length) bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + n));
        }

        void put(byte b) {
            room(1);
            bytes[size++] = b;
        }

        void orLast(byte b) {
            bytes[size - 1] |= b;
        }

        void put(byte[] b) {
            room(b.length);
            System.arraycopy(b, 0, bytes, size, b.length);
            size += b.length;
        }

        void putShort(short v) {
            room(2);
            bytes[size++] = (byte) v;
            bytes[size++] = (byte) (v >> 8);
        }

        void putInt(int v) {
            room(4);
            for (int i = 0; i < 4; i++) bytes[size++] = (byte) (v >> (8 * i));
        }

        void putLong(long v) {
            room(8);
            for (int i = 0; i < 8; i++) bytes[size++] = (byte) (v >> (8 * i));
        }
    }

    /** A list of byte arrays as u32 count, then u32 length | bytes each. */
    static byte[] list(List<byte[]> items) {
        int size = 4;
        for (byte[] item : items) size += 4 + item.length;
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(items.size());
        for (byte[] item : items) out.putInt(item.length).put(item);
        return out.array();
    }

    static List<byte[]> unlist(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int n = in.getInt();
        List<byte[]> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] item = new byte[in.getInt()];
            in.get(item);
            items.add(item);
        }
        return items;
    }
}
