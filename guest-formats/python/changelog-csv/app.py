"""`changelog-csv` in Python: the same format as the Rust built-in
(guest-formats/changelog-csv), written with the Python SDK. Each frame is
`KIND|field|field…`; KIND is INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE or
+I, -U, +U, -D. An empty field is null, except for strings and bytes."""

from weir_sdk import DELETE, INSERT, UPDATE_AFTER, UPDATE_BEFORE, ConfigError, Format, export_format, is_nested, is_text, option, text

KINDS = [(INSERT, "INSERT", "+I"), (UPDATE_BEFORE, "UPDATE_BEFORE", "-U"), (UPDATE_AFTER, "UPDATE_AFTER", "+U"), (DELETE, "DELETE", "-D")]
BY_TEXT = {name: k for k, long, short in KINDS for name in (long, short)}
NAMES = {k: long for k, long, _ in KINDS}


class ChangelogCsv(Format):
    identifier = "changelog-csv-py"
    description = "changelog-csv written in Python: a row kind then the fields, e.g. INSERT|Alice|12"
    options = [option("column-delimiter", "Separator between the row kind and the fields", default="|")]
    changelog = [INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE]

    def __init__(self, options, schema):
        super().__init__(options, schema)
        self.delimiter = options["column-delimiter"]
        if not self.delimiter:
            raise ConfigError("must not be empty", key="column-delimiter")
        for f in self.fields:
            if is_nested(f.data_type):
                raise ConfigError(f"changelog-csv takes scalar columns only; '{f.name}' is nested")

    def decode_record(self, frame):
        line = frame.decode("utf-8")
        parts = line.split(self.delimiter)
        kind_text = parts[0].strip()
        if kind_text not in BY_TEXT:
            raise ValueError(f"'{kind_text}' is not a row kind (INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE)")
        values = parts[1:]
        if len(values) != len(self.fields):
            raise ValueError(f"expected a row kind and {len(self.fields)} fields, found {len(values)}")
        row = []
        for f, value in zip(self.fields, values):
            try:
                row.append(None if value == "" and not is_text(f.data_type) else text.parse(f.data_type, value))
            except ValueError as e:
                raise ValueError(f"column '{f.name}': {e}") from None
        yield BY_TEXT[kind_text], row

    def encode_row(self, kind, values):
        out = [NAMES.get(kind, "INSERT")]
        for f, value in zip(self.fields, values):
            if value is None and is_text(f.data_type):
                raise ValueError(f"column '{f.name}': changelog-csv cannot tell a null string or bytes value from an empty one")
            field = text.write(f.data_type, value)
            if self.delimiter in field or "\n" in field or "\r" in field:
                raise ValueError(f"column '{f.name}': the value contains the delimiter or a line break")
            out.append(field)
        return self.delimiter.join(out).encode("utf-8")


Factory = export_format(ChangelogCsv)
