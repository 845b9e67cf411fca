"""Weir's Python SDK: write a format component by subclassing one class.

    from weir_sdk import INSERT, Format, export_format, option

    class Upper(Format):
        identifier = "upper"
        description = "One STRING column, upper-cased"
        options = [option("strict", "Fail on empty lines", type="boolean", default="false")]

        def __init__(self, options, schema):
            super().__init__(options, schema)
            ...

        def decode_record(self, frame):
            yield INSERT, [frame.decode().upper()]

        def encode_row(self, kind, values):
            return values[0].encode()

    Factory = export_format(Upper)

Build it with componentize-py 0.25.1 (`pip install componentize-py==0.25.1`),
from the directory holding `app.py`, with `WEIR` the Weir checkout:

    componentize-py -d $WEIR/wit/v0.1.0 -w format-component bindings gen
    componentize-py -d $WEIR/wit/v0.1.0 -w format-component componentize \
        -p gen -p $WEIR/sdk/python -p . app -o my-format.wasm

(`scripts/build-polyglot` does this for the repository's own components.)
The generated bindings (`gen`, module `wit_world`) and this package's
`format` module, which exports the decoder and encoder resources, must be on
the path, as above. See docs/authoring.md.
"""

from . import text, types
from .batch import DELETE, INSERT, UPDATE_AFTER, UPDATE_BEFORE, BatchBuilder, BatchReader, column_kind, is_nested

__all__ = [
    "Format", "option", "capability", "export_format", "text", "types",
    "BatchBuilder", "BatchReader", "INSERT", "UPDATE_BEFORE", "UPDATE_AFTER", "DELETE",
    "ConfigError", "DataError", "Unsupported", "Transient", "WeirError", "column_kind", "is_nested",
    "type_name", "is_text", "counter_add", "log",
]  # fmt: skip

# ---------------------------------------------------------------------------
# Errors: raised by a component, turned into the contract's `error` variant
# ---------------------------------------------------------------------------


class WeirError(Exception):
    """An expected failure the host can act on."""

    def to_wit(self):
        raise NotImplementedError


class ConfigError(WeirError):
    """Bad options or schema; `key` names the option to blame."""

    def __init__(self, message, key=None):
        super().__init__(message)
        self.key, self.message = key, message

    def to_wit(self):
        return types.Error_Config(types.ConfigError(self.key, self.message))


class DataError(WeirError):
    """A malformed record at `position` (its index in the call's input)."""

    def __init__(self, message, position=0, excerpt=""):
        super().__init__(message)
        self.message, self.position, self.excerpt = message, position, excerpt

    def to_wit(self):
        return types.Error_Data(types.DataError(self.position, self.excerpt, self.message))


class Unsupported(WeirError):
    def to_wit(self):
        return types.Error_Unsupported(str(self))


class Transient(WeirError):
    def to_wit(self):
        return types.Error_Transient(str(self))


# ---------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------


def option(key, description, type="string", default=None, required=False, secret=False, allowed=()):
    """One option of the spec. `type` is one of string, int, long, double,
    boolean, duration, memory-size, enum, char."""
    kind = types.OptionType[type.upper().replace("-", "_")]
    return types.OptionSpec(key, kind, default, required, secret, description, list(allowed))


def capability(kind, target, when=None):
    """A capability the component needs: kind is read, write, tcp-connect,
    http, env, stdout…; `target` is a template over options (`{path}`)."""
    return types.Capability(types.CapabilityKind[kind.upper().replace("-", "_")], target, when)


def counter_add(name, delta):
    from wit_world.imports import host

    host.counter_add(name, delta)


def log(level, message):
    from wit_world.imports import host

    host.log(host.Level[level.upper()], message)


def type_name(ty):
    """The SQL name of a logical type, for messages."""
    name = type(ty).__name__.removeprefix("LogicalType_")
    names = {"TimestampLtz": "TIMESTAMP_LTZ"}
    base = names.get(name, name.upper())
    v = getattr(ty, "value", None)
    if isinstance(v, types.DecimalType):
        return f"DECIMAL({v.precision}, {v.scale})"
    if isinstance(v, int) and base not in ("ARRAY", "MAP", "ROW"):
        return f"{base}({v})"
    return base


def is_text(ty):
    """CHAR/VARCHAR/STRING/BINARY/VARBINARY/BYTES."""
    return column_kind(ty) in ("utf8", "binary")


# ---------------------------------------------------------------------------
# The format base class
# ---------------------------------------------------------------------------


class Format:
    """Subclass and set `identifier`, `description`, `options` (and
    `changelog`, `capabilities`, `version`); implement `decode_record` and
    `encode_row`, or `decode` / `encode` for whole calls."""

    identifier = None
    description = ""
    version = "0.1.0"
    options = []
    changelog = []
    capabilities = []

    def __init__(self, options, schema):
        #: Option values by key, with the spec's defaults filled in.
        self.options = options
        self.schema = schema
        self.fields = schema.fields
        #: When true, `decode` skips malformed records and counts them in
        #: the `records-skipped` metric instead of failing the call.
        self.skip_errors = False

    @classmethod
    def spec(cls):
        if not cls.identifier:
            raise TypeError(f"{cls.__name__} must set `identifier`")
        return types.ComponentSpec(
            cls.identifier,
            cls.description,
            cls.version,
            list(cls.options),
            [types.RowKind(k) for k in cls.changelog],
            types.SourceAbilities(0),
            types.SinkAbilities(0),
            types.Payload.RAW_RECORDS,
            list(cls.capabilities),
        )

    @classmethod
    def validate(cls, options, schema):
        """Cross-option checks; by default, opening must succeed."""
        cls(options, schema)

    def decode_record(self, frame):
        """Rows of one frame (bytes), as `(kind, values)` pairs. Raise
        ValueError for a malformed record."""
        raise Unsupported(f"{self.identifier} cannot decode")

    def encode_row(self, kind, values):
        """One row as a frame (bytes). Raise ValueError if it cannot be
        encoded."""
        raise Unsupported(f"{self.identifier} cannot encode")

    def decode(self, frames):
        """Decodes a list of frames into a `BatchBuilder` with `decode_record`."""
        out = BatchBuilder(self.schema)
        skipped = 0
        for i, frame in enumerate(frames):
            try:
                rows = list(self.decode_record(frame))
                mark = len(out)
                try:
                    for kind, values in rows:
                        out.add(kind, values)
                except ValueError:
                    for column in out.columns:
                        del column[mark:]
                    del out.row_kinds[mark:]
                    raise
            except (ValueError, UnicodeDecodeError) as e:
                if not self.skip_errors:
                    raise DataError(str(e), i, frame[:40].decode("utf-8", "replace")) from None
                skipped += 1
        if skipped:
            counter_add("records-skipped", skipped)
        return out

    def encode(self, reader):
        """Encodes every row of a `BatchReader` with `encode_row`."""
        frames = []
        for row in range(reader.rows):
            try:
                frames.append(self.encode_row(reader.kind(row), reader.row(row)))
            except ValueError as e:
                raise DataError(str(e), row, "") from None
        return frames


_registered = None


def export_format(cls):
    """Makes `cls` the component's format; returns the `Factory` class the
    component's module must expose under that name."""
    global _registered
    _registered = cls
    from ._export import Factory

    return Factory


def registered():
    if _registered is None:
        raise RuntimeError("no format registered: call weir_sdk.export_format(YourFormat) in the component module")
    return _registered
