// `changelog-csv` in JavaScript: the same format as the Rust built-in
// (guest-formats/changelog-csv), written with the JavaScript SDK. Each frame
// is `KIND|field|field…`; KIND is INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE
// or +I, -U, +U, -D. An empty field is null, except for strings and bytes.

import { DELETE, Format, INSERT, UPDATE_AFTER, UPDATE_BEFORE, configError, exportFormat, isNested, isText, option, text } from './weir-sdk.js';

const KINDS = [[INSERT, 'INSERT', '+I'], [UPDATE_BEFORE, 'UPDATE_BEFORE', '-U'], [UPDATE_AFTER, 'UPDATE_AFTER', '+U'], [DELETE, 'DELETE', '-D']];
const BY_TEXT = new Map(KINDS.flatMap(([k, long, short]) => [[long, k], [short, k]]));
const NAMES = new Map(KINDS.map(([k, long]) => [k, long]));
const utf8 = new TextDecoder('utf-8', { fatal: true });

class ChangelogCsv extends Format {
  static identifier = 'changelog-csv-js';
  static description = 'changelog-csv written in JavaScript: a row kind then the fields, e.g. INSERT|Alice|12';
  static options = [option('column-delimiter', 'Separator between the row kind and the fields', { defaultValue: '|' })];
  static changelog = [INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE];

  constructor(options, schema) {
    super(options, schema);
    this.delimiter = options['column-delimiter'];
    if (!this.delimiter) throw configError('must not be empty', 'column-delimiter');
    const nested = this.fields.find((f) => isNested(f.dataType));
    if (nested) throw configError(`changelog-csv takes scalar columns only; '${nested.name}' is nested`);
  }

  *decodeRecord(frame) {
    const parts = utf8.decode(frame).split(this.delimiter);
    const kindText = parts[0].trim();
    if (!BY_TEXT.has(kindText)) throw new RangeError(`'${kindText}' is not a row kind (INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE)`);
    const values = parts.slice(1);
    if (values.length !== this.fields.length) {
      throw new RangeError(`expected a row kind and ${this.fields.length} fields, found ${values.length}`);
    }
    const row = this.fields.map((f, i) => {
      const v = values[i];
      try {
        return v === '' && !isText(f.dataType) ? null : text.parse(f.dataType, v);
      } catch (e) {
        throw new RangeError(`column '${f.name}': ${e.message}`);
      }
    });
    yield [BY_TEXT.get(kindText), row];
  }

  encodeRow(kind, values) {
    const out = [NAMES.get(kind) ?? 'INSERT'];
    this.fields.forEach((f, i) => {
      const v = values[i];
      if (v === null && isText(f.dataType)) {
        throw new RangeError(`column '${f.name}': changelog-csv cannot tell a null string or bytes value from an empty one`);
      }
      const field = text.write(f.dataType, v);
      if (field.includes(this.delimiter) || field.includes('\n') || field.includes('\r')) {
        throw new RangeError(`column '${f.name}': the value contains the delimiter or a line break`);
      }
      out.push(field);
    });
    return out.join(this.delimiter);
  }
}

export const { factory, format } = exportFormat(ChangelogCsv);
