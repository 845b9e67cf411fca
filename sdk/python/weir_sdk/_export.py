"""The glue between componentize-py's generated exports and a `Format`."""

from componentize_py_types import Err

from wit_world import exports as _generated

from . import DataError, WeirError, registered, types
from .batch import BatchReader


def options_of(cls, pairs):
    """Option pairs as a dict, with the spec's defaults filled in."""
    values = {o.key: o.default_value for o in cls.options if o.default_value is not None}
    values.update(dict(pairs))
    return values


def call(fn, *args):
    """Runs `fn`, turning a WeirError into the contract's error."""
    try:
        return fn(*args)
    except WeirError as e:
        raise Err(e.to_wit()) from None


class Factory(_generated.Factory):
    def spec(self):
        return registered().spec()

    def validate(self, options, schema):
        cls = registered()
        call(cls.validate, options_of(cls, options), schema)


def open_format(options, schema):
    cls = registered()
    return call(cls, options_of(cls, options), schema)


def decode(fmt, frames):
    off, data = frames.offsets, frames.data
    chunks = [data[off[i] : off[i + 1]] for i in range(len(off) - 1)]
    return call(lambda: fmt.decode(chunks).finish())


def encode(fmt, rows):
    def run():
        try:
            reader = BatchReader(rows, fmt.schema)
        except ValueError as e:
            raise DataError(str(e)) from None
        out = fmt.encode(reader)
        offsets, end = [0], 0
        for frame in out:
            end += len(frame)
            offsets.append(end)
        return types.VarData(offsets, b"".join(out))

    return call(run)

