"""`logfmt`: the `key=value key2="quoted value"` lines of Heroku, Go's
log/slog and many services — a format users ask for that Flink lacks.

Decoding maps each column to the key of the same name: a missing key is
null, a bare key (`debug`) is true for a BOOLEAN column and the empty string
otherwise, unknown keys are ignored, the last of duplicate keys wins.
Encoding writes `column=value` for each non-null column, quoting values that
are empty or hold spaces, `=` or `"` (with `\\"` and `\\\\` escapes).
Insert-only."""

from weir_sdk import ConfigError, Format, INSERT, export_format, is_nested, option, text, types

NEEDS_QUOTES = (" ", "=", '"', "\t")


def parse_line(line):
    """The key/value pairs of one logfmt line; raises ValueError when a
    quote is not closed or a key is empty."""
    pairs = {}
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and line[i] not in "= \t":
            i += 1
        key = line[start:i]
        if not key:
            raise ValueError(f"empty key at character {i}")
        if i < n and line[i] == "=":
            i += 1
            if i < n and line[i] == '"':
                i += 1
                value = []
                while True:
                    if i >= n:
                        raise ValueError(f"unclosed quote in the value of '{key}'")
                    c = line[i]
                    if c == "\\" and i + 1 < n:
                        value.append(line[i + 1])
                        i += 2
                    elif c == '"':
                        i += 1
                        break
                    else:
                        value.append(c)
                        i += 1
                pairs[key] = "".join(value)
            else:
                start = i
                while i < n and line[i] not in " \t":
                    i += 1
                pairs[key] = line[start:i]
        else:
            pairs[key] = None  # a bare key
    return pairs


def quote(value):
    if value == "" or any(c in value for c in NEEDS_QUOTES) or "\\" in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


class Logfmt(Format):
    identifier = "logfmt"
    description = "key=value pairs per line (Heroku / Go slog logfmt), columns matched by key"
    options = [
        option("ignore-parse-errors", "Skip malformed lines (counted in records-skipped) instead of failing", type="boolean", default="false"),
    ]

    def __init__(self, options, schema):
        super().__init__(options, schema)
        self.skip_errors = options["ignore-parse-errors"].lower() == "true"
        for f in self.fields:
            if is_nested(f.data_type):
                raise ConfigError(f"logfmt takes scalar columns only; '{f.name}' is nested")
            if any(c in f.name for c in NEEDS_QUOTES):
                raise ConfigError(f"column '{f.name}' cannot be a logfmt key (no spaces, '=' or quotes)")

    def decode_record(self, frame):
        pairs = parse_line(frame.decode("utf-8"))
        row = []
        for f in self.fields:
            value = pairs.get(f.name, ...)
            if value is ...:
                row.append(None)
            elif value is None:
                row.append(True if isinstance(f.data_type, types.LogicalType_Boolean) else text.parse(f.data_type, ""))
            else:
                try:
                    row.append(text.parse(f.data_type, value))
                except ValueError as e:
                    raise ValueError(f"key '{f.name}': {e}") from None
        yield INSERT, row

    def encode_row(self, kind, values):
        if kind != INSERT:
            raise ValueError("logfmt is insert-only")
        fields = [f"{f.name}={quote(text.write(f.data_type, v))}" for f, v in zip(self.fields, values) if v is not None]
        return " ".join(fields).encode("utf-8")


Factory = export_format(Logfmt)
