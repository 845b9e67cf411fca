// Weir's JavaScript SDK: write a format component by extending one class.
//
//   import { Format, exportFormat, option, INSERT, text } from './weir-sdk.js';
//   class Upper extends Format {
//     static identifier = 'upper';
//     static description = 'One STRING column, upper-cased';
//     *decodeRecord(frame) { yield [INSERT, [new TextDecoder().decode(frame).toUpperCase()]]; }
//     encodeRow(kind, values) { return new TextEncoder().encode(values[0]); }
//   }
//   export const { factory, format } = exportFormat(Upper);
//
// Build it with componentize-js 0.23.0 (`npm install
// @bytecodealliance/componentize-js@0.23.0`): copy the SDK's .js files next
// to your app.js (componentize-js resolves imports inside that directory),
// then `componentize-js app.js --wit $WEIR/wit/v0.1.0 --world-name
// format-component -o my-format.wasm` (scripts/build-polyglot does this for
// the repository's own components; see docs/authoring.md). Values are in batch units (see text.js); 64-bit ones are BigInts.
// Scalar columns only: ARRAY, MAP and ROW are not supported by this SDK yet.

import { counterAdd } from 'weir:connector/host@0.1.0';
import * as text from './text.js';

export { text };
export const INSERT = 0, UPDATE_BEFORE = 1, UPDATE_AFTER = 2, DELETE = 3;
const KIND_NAMES = ['insert', 'update-before', 'update-after', 'delete'];

// ---- errors: thrown by a component, returned as the contract's `error` ----

export class WeirError extends Error {
  constructor(message, payload) {
    super(message);
    // The glue componentize-js generates returns `payload` as the error.
    this.payload = payload;
  }
}
export const configError = (message, key) => new WeirError(message, { tag: 'config', val: { key, message } });
export const dataError = (message, position = 0, excerpt = '') =>
  new WeirError(message, { tag: 'data', val: { position: BigInt(position), excerpt, message } });
export const unsupported = (message) => new WeirError(message, { tag: 'unsupported', val: message });

// ---- the spec ---------------------------------------------------------------

export function option(key, description, { type = 'string', defaultValue, required = false, secret = false, allowed = [] } = {}) {
  return { key, optionType: type, defaultValue, required, secret, description, allowedValues: allowed };
}

export function capability(kind, target, when) {
  return { kind, target, whenOption: when };
}

// ---- batches ------------------------------------------------------------------

const KINDS = {
  boolean: 'boolean', tinyint: 'int8', smallint: 'int16', int: 'int32', date: 'int32', bigint: 'int64',
  timestamp: 'int64', 'timestamp-ltz': 'int64', float: 'float32', double: 'float64', decimal: 'decimal128',
  char: 'utf8', varchar: 'utf8', string: 'utf8', binary: 'binary', varbinary: 'binary', bytes: 'binary',
};
const ARRAYS = {
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  float32: Float32Array, float64: Float64Array,
};

export function columnKind(ty) {
  if (ty.tag === 'time') return ty.val <= 3 ? 'int32' : 'int64';
  return KINDS[ty.tag];
}
export const isNested = (ty) => columnKind(ty) === undefined;
export const isText = text.isText;

function bits(flags) {
  const out = new Uint8Array((flags.length + 7) >> 3);
  flags.forEach((on, i) => { if (on) out[i >> 3] |= 1 << (i & 7); });
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function varData(values, toBytes) {
  const parts = values.map((v) => (v === null ? new Uint8Array(0) : toBytes(v)));
  const offsets = new Int32Array(parts.length + 1);
  let end = 0;
  parts.forEach((p, i) => { end += p.length; offsets[i + 1] = end; });
  const data = new Uint8Array(end);
  parts.forEach((p, i) => data.set(p, offsets[i]));
  return { offsets, data };
}

export class BatchBuilder {
  constructor(schema) {
    this.schema = schema;
    this.kinds = schema.fields.map((f) => {
      const k = columnKind(f.dataType);
      if (!k) throw configError(`column '${f.name}': nested types are not supported by the JavaScript SDK`);
      return k;
    });
    this.columns = schema.fields.map(() => []);
    this.rowKinds = [];
  }

  get length() { return this.rowKinds.length; }

  // Appends one row; throws RangeError (appending nothing) if it does not fit.
  add(kind, values) {
    const fields = this.schema.fields;
    if (values.length !== fields.length) throw new RangeError(`expected ${fields.length} values, got ${values.length}`);
    fields.forEach((f, i) => {
      if (values[i] === null && !f.nullable) throw new RangeError(`column '${f.name}': NOT NULL, but the value is null`);
    });
    values.forEach((v, i) => this.columns[i].push(v));
    this.rowKinds.push(kind);
  }

  truncate(rows) {
    this.columns.forEach((c) => { c.length = rows; });
    this.rowKinds.length = rows;
  }

  finish() {
    const columns = this.kinds.map((kind, i) => column(kind, this.columns[i]));
    const rowKinds = this.rowKinds.every((k) => k === INSERT) ? new Uint8Array(0) : Uint8Array.from(this.rowKinds);
    return { rowCount: this.rowKinds.length, rowKinds, columns, children: [] };
  }
}

function column(kind, values) {
  const validity = values.every((v) => v !== null) ? undefined : bits(values.map((v) => v !== null));
  let data;
  if (kind === 'boolean') data = bits(values.map(Boolean));
  else if (kind === 'int64') data = BigInt64Array.from(values, (v) => (v === null ? 0n : BigInt(v)));
  else if (kind in ARRAYS) data = ARRAYS[kind].from(values, (v) => (v === null ? 0 : v));
  else if (kind === 'decimal128') {
    data = new BigUint64Array(values.length * 2);
    values.forEach((v, i) => {
      const x = BigInt.asUintN(128, v === null ? 0n : BigInt(v));
      data[2 * i] = BigInt.asUintN(64, x);
      data[2 * i + 1] = x >> 64n;
    });
  } else if (kind === 'utf8') data = varData(values, (s) => encoder.encode(s));
  else data = varData(values, (b) => b);
  return { validity, data: { tag: kind, val: data } };
}

export class BatchReader {
  constructor(batch, schema) {
    if (batch.columns.length !== schema.fields.length) {
      throw new RangeError(`the batch has ${batch.columns.length} columns, the schema ${schema.fields.length}`);
    }
    this.batch = batch;
    this.rows = batch.rowCount;
    this.columns = batch.columns.map((c) => values(c, batch.rowCount));
  }
  kind(row) { return this.batch.rowKinds.length ? this.batch.rowKinds[row] : INSERT; }
  row(row) { return this.columns.map((c) => c[row]); }
}

function values(col, n) {
  const { tag, val } = col.data;
  let out;
  if (tag === 'boolean') out = Array.from({ length: n }, (_, i) => ((val[i >> 3] >> (i & 7)) & 1) === 1);
  else if (tag === 'decimal128') out = Array.from({ length: n }, (_, i) => BigInt.asIntN(128, BigInt(val[2 * i]) | (BigInt(val[2 * i + 1]) << 64n)));
  else if (tag === 'utf8' || tag === 'binary') {
    out = Array.from({ length: n }, (_, i) => val.data.subarray(val.offsets[i], val.offsets[i + 1]));
    if (tag === 'utf8') out = out.map((b) => decoder.decode(b));
    else out = out.map((b) => Uint8Array.from(b));
  } else if (tag === 'list' || tag === 'struct') throw new RangeError('nested columns are not supported by the JavaScript SDK');
  else out = Array.from(val.subarray(0, n));
  if (col.validity) out = out.map((x, i) => (((col.validity[i >> 3] >> (i & 7)) & 1) ? x : null));
  return out;
}

// ---- the format base class ------------------------------------------------------

export class Format {
  static identifier = undefined;
  static description = '';
  static version = '0.1.0';
  static options = [];
  static changelog = [];
  static capabilities = [];

  // `options`: an object of option values, the spec's defaults filled in.
  constructor(options, schema) {
    this.options = options;
    this.schema = schema;
    this.fields = schema.fields;
    // When true, `decode` skips malformed records and counts them.
    this.skipErrors = false;
  }

  static spec() {
    return {
      identifier: this.identifier, description: this.description, version: this.version,
      options: this.options, changelogMode: this.changelog.map((k) => KIND_NAMES[k]),
      sourceAbilities: {}, sinkAbilities: {}, payload: 'raw-records', capabilities: this.capabilities,
    };
  }

  static validate(options, schema) { new this(options, schema); }

  // Rows of one frame (Uint8Array) as [kind, values] pairs; throw a
  // RangeError (or TypeError) for a malformed record.
  *decodeRecord(frame) { throw unsupported(`${this.constructor.identifier} cannot decode`); }

  // One row as a frame (Uint8Array or string).
  encodeRow(kind, values) { throw unsupported(`${this.constructor.identifier} cannot encode`); }

  decode(frames) {
    const out = new BatchBuilder(this.schema);
    let skipped = 0;
    frames.forEach((frame, i) => {
      const mark = out.length;
      try {
        for (const [kind, row] of this.decodeRecord(frame)) out.add(kind, row);
      } catch (e) {
        if (e instanceof WeirError) throw e;
        out.truncate(mark);
        if (!this.skipErrors) throw dataError(String(e.message ?? e), i, new TextDecoder().decode(frame.subarray(0, 40)));
        skipped += 1;
      }
    });
    if (skipped) counterAdd('records-skipped', BigInt(skipped));
    return out;
  }

  encode(reader) {
    const frames = [];
    for (let row = 0; row < reader.rows; row++) {
      try {
        const f = this.encodeRow(reader.kind(row), reader.row(row));
        frames.push(typeof f === 'string' ? encoder.encode(f) : f);
      } catch (e) {
        if (e instanceof WeirError) throw e;
        throw dataError(String(e.message ?? e), row, '');
      }
    }
    return frames;
  }
}

function optionsOf(cls, pairs) {
  const values = {};
  for (const o of cls.options) if (o.defaultValue !== undefined) values[o.key] = o.defaultValue;
  for (const [k, v] of pairs) values[k] = v;
  return values;
}

// The `factory` and `format` exports for `cls`.
export function exportFormat(cls) {
  const open = (options, schema) => new cls(optionsOf(cls, options), schema);
  class Decoder {
    constructor(inner) { this.inner = inner; }
    static open(options, schema) { return new Decoder(open(options, schema)); }
    decode(frames) {
      const { offsets, data } = frames;
      const chunks = [];
      for (let i = 0; i + 1 < offsets.length; i++) chunks.push(data.subarray(offsets[i], offsets[i + 1]));
      return this.inner.decode(chunks).finish();
    }
  }
  class Encoder {
    constructor(inner) { this.inner = inner; }
    static open(options, schema) { return new Encoder(open(options, schema)); }
    encode(rows) {
      let reader;
      try { reader = new BatchReader(rows, this.inner.schema); } catch (e) { throw dataError(e.message); }
      const frames = this.inner.encode(reader);
      return varData(frames, (f) => f);
    }
  }
  const factory = {
    spec: () => cls.spec(),
    validate: (options, schema) => { cls.validate(optionsOf(cls, options), schema); },
  };
  return { factory, format: { Decoder, Encoder } };
}
