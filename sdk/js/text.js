// Scalar values as text, the way Flink's text formats read and write them:
// a port of the Rust SDK's `weir_text` (same layouts, same checks). Values
// are in batch units: DATE is days since the epoch, TIME(p)/TIMESTAMP(p)
// are s/ms/µs/ns by precision, DECIMAL is the unscaled integer. 64-bit
// values (BIGINT, TIME(4..9), TIMESTAMP, DECIMAL) are BigInts.

const NANOS = 1_000_000_000n;
const DAY = 86_400n;
const RANGES = {
  TINYINT: [-(2n ** 7n), 2n ** 7n - 1n],
  SMALLINT: [-(2n ** 15n), 2n ** 15n - 1n],
  INT: [-(2n ** 31n), 2n ** 31n - 1n],
  BIGINT: [-(2n ** 63n), 2n ** 63n - 1n],
};
const INT_NAMES = { tinyint: 'TINYINT', smallint: 'SMALLINT', int: 'INT', bigint: 'BIGINT' };
const TEXT_TAGS = new Set(['char', 'varchar', 'string']);
const BYTES_TAGS = new Set(['binary', 'varbinary', 'bytes']);

export const excerpt = (s) => [...s].slice(0, 40).join('');
const isDigits = (s) => s.length > 0 && /^[0-9]+$/.test(s);

export function parseBool(s) {
  const low = s.toLowerCase();
  if (low === 'true') return true;
  if (low === 'false') return false;
  throw new RangeError(`'${excerpt(s)}' is not a BOOLEAN (true or false)`);
}

export function parseInt(s, typeName) {
  const body = s[0] === '-' || s[0] === '+' ? s.slice(1) : s;
  if (!isDigits(body)) throw new RangeError(`'${excerpt(s)}' is not an integer (${typeName})`);
  const v = BigInt(s[0] === '+' ? body : s);
  const [lo, hi] = RANGES[typeName];
  if (v < lo || v > hi) throw new RangeError(`${body.length > 38 ? excerpt(s) : v} is out of range for ${typeName}`);
  return typeName === 'BIGINT' ? v : Number(v);
}

export function parseFloat(s, typeName) {
  const special = { Infinity: Infinity, '+Infinity': Infinity, '-Infinity': -Infinity };
  let v;
  if (s in special) v = special[s];
  else if (/^[+-]?(inf|infinity)$/i.test(s)) v = s[0] === '-' ? -Infinity : Infinity;
  else if (/^[+-]?nan$/i.test(s)) v = NaN;
  else if (/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(s)) v = Number(s);
  else throw new RangeError(`'${excerpt(s)}' is not a number (${typeName})`);
  return typeName === 'FLOAT' ? Math.fround(v) : v;
}

function shortest(v, single) {
  if (!single) return String(v);
  for (let p = 1; p <= 9; p++) {
    const t = v.toExponential(p - 1);
    if (Math.fround(Number(t)) !== v) continue;
    // toExponential breaks a tie away from zero; ryu (the Rust SDK) and
    // Java take the even neighbour. `v` is a tie exactly when it equals
    // the midpoint between the two (an f32 is exact in a double).
    const [m, e] = t.split('e');
    const digits = m.replace('.', '');
    if (Number(digits[digits.length - 1]) % 2 === 1) {
      const dd = (BigInt(digits) - 1n).toString();
      const down = `${dd[0]}${dd.length > 1 ? '.' + dd.slice(1) : ''}e${e}`;
      if (Number(`${dd[0]}.${dd.slice(1)}5e${e}`) === v && Math.fround(Number(down)) === v) return down;
    }
    return t;
  }
  return String(v);
}

// A DOUBLE (or FLOAT with `single`) as Java's Double.toString.
export function writeFloat(v, single = false) {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  const negative = v < 0 || Object.is(v, -0);
  const abs = Math.abs(v);
  const out = negative ? '-' : '';
  if (abs === 0) return out + '0.0';
  // Significant digits and the exponent of the first one.
  let [mant, expPart] = shortest(abs, single).toLowerCase().split('e');
  let [ip, fp = ''] = mant.split('.');
  let digits = (ip + fp).replace(/^0+/, '');
  const leading = (ip + fp).length - digits.length;
  let e = ip.length - 1 - leading + Number(expPart || 0);
  digits = digits.replace(/0+$/, '');
  if (abs >= 1e-3 && abs < 1e7) {
    if (e < 0) return out + '0.' + '0'.repeat(-e - 1) + digits;
    const whole = e + 1;
    if (digits.length <= whole) return out + digits + '0'.repeat(whole - digits.length) + '.0';
    return out + digits.slice(0, whole) + '.' + digits.slice(whole);
  }
  return out + digits[0] + '.' + (digits.slice(1) || '0') + 'E' + e;
}

export function parseDecimal(s, precision, scale) {
  const bad = new RangeError(`'${excerpt(s)}' is not a DECIMAL(${precision}, ${scale})`);
  let negative = false, body = s;
  if (s[0] === '-') { negative = true; body = s.slice(1); } else if (s[0] === '+') body = s.slice(1);
  let exp = 0;
  const cut = body.search(/[eE]/);
  let number = body;
  if (cut >= 0) {
    number = body.slice(0, cut);
    const e = body.slice(cut + 1);
    const eBody = e[0] === '-' || e[0] === '+' ? e.slice(1) : e;
    if (!isDigits(eBody)) throw bad;
    exp = Number(e);
  }
  const dot = number.indexOf('.');
  const intPart = dot >= 0 ? number.slice(0, dot) : number;
  const fracPart = dot >= 0 ? number.slice(dot + 1) : '';
  if ((intPart === '' && fracPart === '') || !/^[0-9]*$/.test(intPart + fracPart)) throw bad;
  let digits = (intPart + fracPart).replace(/^0+/, '');
  let point = fracPart.length - exp;
  while (point > scale) {
    if (digits === '' || digits.endsWith('0')) { digits = digits.slice(0, -1); point -= 1; }
    else throw new RangeError(`${excerpt(s)} has more than ${scale} digits after the point: DECIMAL(${precision}, ${scale}) would round it`);
  }
  const zeros = scale - point;
  if (digits && digits.length + zeros > precision) throw new RangeError(`${excerpt(s)} does not fit DECIMAL(${precision}, ${scale})`);
  const unscaled = digits ? BigInt(digits + '0'.repeat(zeros)) : 0n;
  return negative ? -unscaled : unscaled;
}

export function writeDecimal(unscaled, scale) {
  const sign = unscaled < 0n ? '-' : '';
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString();
  if (scale === 0) return sign + digits;
  if (digits.length > scale) return sign + digits.slice(0, -scale) + '.' + digits.slice(-scale);
  return sign + '0.' + '0'.repeat(scale - digits.length) + digits;
}

const fdiv = (a, b) => { const q = a / b; return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q; };

export function daysFromCivil(year, month, day) {
  const y = BigInt(month <= 2 ? year - 1 : year);
  const era = fdiv(y, 400n);
  const yoe = y - era * 400n;
  const m = BigInt(month);
  const doy = (153n * (m > 2n ? m - 3n : m + 9n) + 2n) / 5n + BigInt(day) - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return Number(era * 146_097n + doe - 719_468n);
}

export function civilFromDays(days) {
  const z = BigInt(days) + 719_468n;
  const era = fdiv(z, 146_097n);
  const doe = z - era * 146_097n;
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  return [Number(yoe + era * 400n + (month <= 2n ? 1n : 0n)), Number(month), Number(day)];
}

const daysInMonth = (y, m) => m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;

export function parseDate(s) {
  const parts = s.split('-');
  if (parts.length !== 3) throw new RangeError(`'${excerpt(s)}' is not a DATE (yyyy-MM-dd)`);
  const [y, m, d] = parts;
  if (!(y.length === 4 && isDigits(y) && m.length <= 2 && isDigits(m) && d.length <= 2 && isDigits(d))) {
    throw new RangeError(`'${excerpt(s)}' is not a DATE (yyyy-MM-dd)`);
  }
  const [yy, mm, dd] = [Number(y), Number(m), Number(d)];
  if (mm < 1 || mm > 12 || dd === 0 || dd > daysInMonth(yy, mm)) throw new RangeError(`'${excerpt(s)}' is not a valid date`);
  return daysFromCivil(yy, mm, dd);
}

const pad = (v, w) => String(v).padStart(w, '0');

export function writeDate(days) {
  const [y, m, d] = civilFromDays(days);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

export const unitsPerSecond = (p) => (p === 0 ? 1n : p <= 3 ? 1_000n : p <= 6 ? 1_000_000n : NANOS);

function nanosOfDay(s, precision, typeName) {
  const bad = () => new RangeError(`'${excerpt(s)}' is not a ${typeName} (HH:mm:ss[.fff])`);
  const two = (at) => { const p = s.slice(at, at + 2); if (p.length === 2 && isDigits(p)) return Number(p); throw bad(); };
  const h = two(0);
  if (s[2] !== ':') throw bad();
  const m = two(3);
  let sec = 0, at = 5;
  if (s.length === 5) { /* HH:mm */ } else if (s[5] === ':') { sec = two(6); at = 8; } else throw bad();
  if (h > 23 || m > 59 || sec > 59) throw bad();
  let nanos = 0n;
  if (at < s.length) {
    const frac = s.slice(at + 1);
    if (at !== 8 || s[at] !== '.' || frac.length < 1 || frac.length > 9 || !isDigits(frac)) throw bad();
    if (frac.replace(/0+$/, '').length > precision) {
      throw new RangeError(`${excerpt(s)} has more fractional digits than ${typeName}(${precision}) keeps; it would be truncated`);
    }
    nanos = BigInt(frac.padEnd(9, '0'));
  }
  return BigInt(h * 3600 + m * 60 + sec) * NANOS + nanos;
}

export function parseTime(s, precision) {
  const v = nanosOfDay(s, precision, 'TIME') / (NANOS / unitsPerSecond(precision));
  return precision <= 3 ? Number(v) : v;
}

function writeNanosOfDay(nanos) {
  const secs = nanos / NANOS;
  let out = `${pad(secs / 3600n, 2)}:${pad((secs / 60n) % 60n, 2)}:${pad(secs % 60n, 2)}`;
  const frac = nanos % NANOS;
  if (frac !== 0n) out += '.' + pad(frac, 9).replace(/0+$/, '');
  return out;
}

export function writeTime(value, precision) {
  const nanos = BigInt(value) * (NANOS / unitsPerSecond(precision));
  if (nanos < 0n || nanos >= DAY * NANOS) throw new RangeError(`${value} is not a time of day for TIME(${precision})`);
  return writeNanosOfDay(nanos);
}

export function parseTimestamp(s, precision, ltz = false) {
  const typeName = ltz ? 'TIMESTAMP_LTZ' : 'TIMESTAMP';
  const layout = () => new RangeError(`'${excerpt(s)}' is not a ${typeName} (yyyy-MM-dd HH:mm:ss[.fff]${ltz ? 'Z' : ''})`);
  let body = s;
  if (ltz) { if (!s.endsWith('Z')) throw layout(); body = s.slice(0, -1); }
  let date, time;
  if (body[10] === ' ') { date = body.slice(0, 10); time = body.slice(11); }
  else { const i = body.indexOf(' '); if (i < 0) throw layout(); date = body.slice(0, i); time = body.slice(i + 1); }
  let days, nanos;
  try { days = parseDate(date); } catch { throw layout(); }
  try { nanos = nanosOfDay(time, precision, typeName); } catch (e) { if (String(e.message).includes('fractional')) throw e; throw layout(); }
  const unit = unitsPerSecond(precision);
  const v = BigInt(days) * DAY * unit + nanos / (NANOS / unit);
  if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new RangeError(`${excerpt(s)} is out of range for ${typeName}(${precision})`);
  return v;
}

export function writeTimestamp(value, precision, ltz = false) {
  const unit = unitsPerSecond(precision);
  const secs = fdiv(value, unit);
  const sub = value - secs * unit;
  const days = fdiv(secs, DAY);
  const rest = secs - days * DAY;
  const text = writeDate(Number(days)) + ' ' + writeNanosOfDay(rest * NANOS + sub * (NANOS / unit));
  return ltz ? text + 'Z' : text;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function parseBase64(s) {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new RangeError(`'${excerpt(s)}' is not base64`);
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0, acc = 0, o = 0;
  for (const c of clean) {
    acc = (acc << 6) | B64.indexOf(c);
    bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 0xff; }
  }
  return out;
}

export function writeBase64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}

// Parses `text` as a value of logical type `ty` ({tag, val}), trimmed first
// except for strings.
export function parse(ty, text) {
  const s = text.trim();
  const tag = ty.tag;
  if (TEXT_TAGS.has(tag)) return text;
  if (tag === 'boolean') return parseBool(s);
  if (tag in INT_NAMES) return parseInt(s, INT_NAMES[tag]);
  if (tag === 'float') return parseFloat(s, 'FLOAT');
  if (tag === 'double') return parseFloat(s, 'DOUBLE');
  if (tag === 'decimal') return parseDecimal(s, ty.val.precision, ty.val.scale);
  if (BYTES_TAGS.has(tag)) return parseBase64(s);
  if (tag === 'date') return parseDate(s);
  if (tag === 'time') return parseTime(s, ty.val);
  if (tag === 'timestamp') return parseTimestamp(s, ty.val);
  if (tag === 'timestamp-ltz') return parseTimestamp(s, ty.val, true);
  throw new RangeError('nested types have no text form in this format');
}

// `value` of logical type `ty` as text; null is ''.
export function write(ty, value) {
  if (value === null || value === undefined) return '';
  const tag = ty.tag;
  if (TEXT_TAGS.has(tag)) return value;
  if (tag === 'boolean') return value ? 'true' : 'false';
  if (tag in INT_NAMES) return String(value);
  if (tag === 'float') return writeFloat(value, true);
  if (tag === 'double') return writeFloat(value);
  if (tag === 'decimal') return writeDecimal(BigInt(value), ty.val.scale);
  if (BYTES_TAGS.has(tag)) return writeBase64(value);
  if (tag === 'date') return writeDate(value);
  if (tag === 'time') return writeTime(value, ty.val);
  if (tag === 'timestamp') return writeTimestamp(BigInt(value), ty.val);
  if (tag === 'timestamp-ltz') return writeTimestamp(BigInt(value), ty.val, true);
  throw new RangeError('nested types have no text form in this format');
}

export const isText = (ty) => TEXT_TAGS.has(ty.tag) || BYTES_TAGS.has(ty.tag);
