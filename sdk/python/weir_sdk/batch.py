"""Building and reading the columnar batches that cross the boundary.

A `BatchBuilder` takes rows of Python values in batch units (see
`weir_sdk.text`) and lays them out in Arrow's physical layout, which is
what the host expects; a `BatchReader` gives rows back as Python values.
Scalar columns only: ARRAY, MAP and ROW are not supported by this SDK yet.
"""

from . import types as t

INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE = 0, 1, 2, 3

_KINDS = {
    t.LogicalType_Boolean: "boolean",
    t.LogicalType_Tinyint: "int8",
    t.LogicalType_Smallint: "int16",
    t.LogicalType_Int: "int32",
    t.LogicalType_Date: "int32",
    t.LogicalType_Bigint: "int64",
    t.LogicalType_Timestamp: "int64",
    t.LogicalType_TimestampLtz: "int64",
    t.LogicalType_Float: "float32",
    t.LogicalType_Double: "float64",
    t.LogicalType_Decimal: "decimal128",
    t.LogicalType_Char: "utf8",
    t.LogicalType_Varchar: "utf8",
    t.LogicalType_String: "utf8",
    t.LogicalType_Binary: "binary",
    t.LogicalType_Varbinary: "binary",
    t.LogicalType_Bytes: "binary",
}

_U64 = (1 << 64) - 1


def _or(v, default):
    """`v`, or `default` for a null (not `v or default`: -0.0 is falsy)."""
    return default if v is None else v


def column_kind(ty):
    """How a logical type is stored: `int32`, `utf8`, … (None for nested)."""
    if type(ty) is t.LogicalType_Time:
        return "int32" if ty.value <= 3 else "int64"
    return _KINDS.get(type(ty))


def is_nested(ty):
    return column_kind(ty) is None


def _bits(flags):
    out = bytearray((len(flags) + 7) // 8)
    for i, on in enumerate(flags):
        if on:
            out[i >> 3] |= 1 << (i & 7)
    return bytes(out)


def _var_data(values, encode):
    offsets, data, end = [0], bytearray(), 0
    for v in values:
        if v is not None:
            b = encode(v)
            data += b
            end += len(b)
        offsets.append(end)
    return t.VarData(offsets, bytes(data))


class BatchBuilder:
    """Rows for a schema, appended one at a time with `add`."""

    def __init__(self, schema):
        self.schema = schema
        self.kinds = [column_kind(f.data_type) for f in schema.fields]
        for f, kind in zip(schema.fields, self.kinds):
            if kind is None:
                raise ValueError(f"column '{f.name}': nested types are not supported by the Python SDK")
        self.columns = [[] for _ in schema.fields]
        self.row_kinds = []

    def add(self, kind, values):
        """Appends one row of `kind` (INSERT…DELETE). Raises ValueError (and
        appends nothing) when the row does not fit the schema."""
        fields = self.schema.fields
        if len(values) != len(fields):
            raise ValueError(f"expected {len(fields)} values, got {len(values)}")
        for f, v in zip(fields, values):
            if v is None and not f.nullable:
                raise ValueError(f"column '{f.name}': NOT NULL, but the value is null")
        for column, v in zip(self.columns, values):
            column.append(v)
        self.row_kinds.append(kind)

    def __len__(self):
        return len(self.row_kinds)

    def finish(self):
        """The batch (a `types.Batch`)."""
        columns = [self._column(kind, values) for kind, values in zip(self.kinds, self.columns)]
        kinds = b"" if all(k == INSERT for k in self.row_kinds) else bytes(self.row_kinds)
        return t.Batch(len(self.row_kinds), kinds, columns, [])

    @staticmethod
    def _column(kind, values):
        validity = None if all(v is not None for v in values) else _bits([v is not None for v in values])
        if kind == "boolean":
            data = t.ColumnData_Boolean(_bits([bool(v) for v in values]))
        elif kind == "int8":
            data = t.ColumnData_Int8(bytes(_or(v, 0) & 0xFF for v in values))
        elif kind == "int16":
            data = t.ColumnData_Int16([_or(v, 0) for v in values])
        elif kind == "int32":
            data = t.ColumnData_Int32([_or(v, 0) for v in values])
        elif kind == "int64":
            data = t.ColumnData_Int64([_or(v, 0) for v in values])
        elif kind == "float32":
            data = t.ColumnData_Float32([_or(v, 0.0) for v in values])
        elif kind == "float64":
            data = t.ColumnData_Float64([_or(v, 0.0) for v in values])
        elif kind == "decimal128":
            words = []
            for v in values:
                v = _or(v, 0)
                words += [v & _U64, (v >> 64) & _U64]
            data = t.ColumnData_Decimal128(words)
        elif kind == "utf8":
            data = t.ColumnData_Utf8(_var_data(values, lambda s: s.encode("utf-8")))
        else:
            data = t.ColumnData_Binary(_var_data(values, bytes))
        return t.Column(validity, data)


class BatchReader:
    """Rows of a `types.Batch` as Python values in batch units."""

    def __init__(self, batch, schema):
        self.batch = batch
        self.rows = batch.row_count
        if len(batch.columns) != len(schema.fields):
            raise ValueError(f"the batch has {len(batch.columns)} columns, the schema {len(schema.fields)}")
        self.columns = [_values(c, batch.row_count) for c in batch.columns]

    def kind(self, row):
        kinds = self.batch.row_kinds
        return kinds[row] if kinds else INSERT

    def row(self, row):
        return [c[row] for c in self.columns]


def _values(column, n):
    data = column.data
    k = type(data)
    v = data.value
    if k is t.ColumnData_Boolean:
        values = [bool(v[i >> 3] >> (i & 7) & 1) for i in range(n)]
    elif k is t.ColumnData_Int8:
        values = [b - 256 if b > 127 else b for b in v[:n]]
    elif k is t.ColumnData_Decimal128:
        values = []
        for i in range(n):
            x = v[2 * i] | v[2 * i + 1] << 64
            values.append(x - (1 << 128) if x >> 127 else x)
    elif k in (t.ColumnData_Utf8, t.ColumnData_Binary):
        off, raw = v.offsets, v.data
        values = [raw[off[i] : off[i + 1]] for i in range(n)]
        if k is t.ColumnData_Utf8:
            values = [b.decode("utf-8") for b in values]
        else:
            values = [bytes(b) for b in values]
    elif k in (t.ColumnData_List, t.ColumnData_Struct):
        raise ValueError("nested columns are not supported by the Python SDK")
    else:
        values = list(v[:n])
    if column.validity is not None:
        bits = column.validity
        values = [x if bits[i >> 3] >> (i & 7) & 1 else None for i, x in enumerate(values)]
    return values
