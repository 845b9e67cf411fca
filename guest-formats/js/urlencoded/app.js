// `urlencoded`: one `application/x-www-form-urlencoded` record per frame
// (`name=Alice&score=12`), as web forms, webhooks and query strings send
// them — a format users ask for that Flink lacks. Columns are matched by
// key; a missing key is null, the last of duplicate keys wins, `+` is a
// space. Encoding writes the non-null columns in schema order. Insert-only.

import { Format, INSERT, configError, exportFormat, isNested, option, text } from './weir-sdk.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeComponent(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new RangeError(`'${s.slice(0, 40)}' is not valid percent-encoding`);
  }
}

class UrlEncoded extends Format {
  static identifier = 'urlencoded';
  static description = 'key=value&key=value records (HTML forms, webhooks, query strings), columns matched by key';
  static options = [
    option('ignore-parse-errors', 'Skip malformed records (counted in records-skipped) instead of failing', { type: 'boolean', defaultValue: 'false' }),
  ];

  constructor(options, schema) {
    super(options, schema);
    this.skipErrors = options['ignore-parse-errors'].toLowerCase() === 'true';
    const nested = this.fields.find((f) => isNested(f.dataType));
    if (nested) throw configError(`urlencoded takes scalar columns only; '${nested.name}' is nested`);
  }

  *decodeRecord(frame) {
    const pairs = new Map();
    const line = utf8.decode(frame);
    for (const part of line.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const key = decodeComponent(eq < 0 ? part : part.slice(0, eq));
      pairs.set(key, eq < 0 ? '' : decodeComponent(part.slice(eq + 1)));
    }
    const row = this.fields.map((f) => {
      if (!pairs.has(f.name)) return null;
      try {
        return text.parse(f.dataType, pairs.get(f.name));
      } catch (e) {
        throw new RangeError(`key '${f.name}': ${e.message}`);
      }
    });
    yield [INSERT, row];
  }

  encodeRow(kind, values) {
    if (kind !== INSERT) throw new RangeError('urlencoded is insert-only');
    return this.fields
      .map((f, i) => (values[i] === null ? null : `${encodeURIComponent(f.name)}=${encodeURIComponent(text.write(f.dataType, values[i]))}`))
      .filter((p) => p !== null)
      .join('&');
  }
}

export const { factory, format } = exportFormat(UrlEncoded);
