"""The `format` interface's exported resources, for componentize-py, which
looks them up in a module named after the interface. They delegate to the
class the component registered with `weir_sdk.export_format`."""

from weir_sdk import _export
from wit_world.exports import format as _generated


class Decoder(_generated.Decoder):
    def __init__(self, inner):
        self.inner = inner

    @classmethod
    def open(cls, options, schema):
        return cls(_export.open_format(options, schema))

    def decode(self, frames):
        return _export.decode(self.inner, frames)


class Encoder(_generated.Encoder):
    def __init__(self, inner):
        self.inner = inner

    @classmethod
    def open(cls, options, schema):
        return cls(_export.open_format(options, schema))

    def encode(self, rows):
        return _export.encode(self.inner, rows)
