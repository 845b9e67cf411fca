//! Scalar values as text, the way Flink's text formats (csv, json,
//! changelog-csv) and its print sink read and write them. Shared by the
//! guest SDK (`weir_sdk::text`) and the host, so both sides agree on every
//! layout.
//!
//! Parsing is strict where Flink would silently produce a wrong value: an
//! integer out of its type's range, a DECIMAL with more digits than its
//! precision or more fractional digits than its scale, a TIME or TIMESTAMP
//! with more fractional digits than its precision, a BOOLEAN that is neither
//! `true` nor `false` — each is an error naming the value and the type.
//!
//! | type | text |
//! |------|------|
//! | BOOLEAN | `true` / `false`, any case |
//! | TINYINT … BIGINT | decimal digits, optional sign |
//! | FLOAT, DOUBLE | Java's `Double.toString` (`1.5`, `1.0E10`, `NaN`, `Infinity`) |
//! | DECIMAL(p, s) | `123.45`, `1.2E3`; written plain or as `BigDecimal.toString` |
//! | DATE | `2026-11-22` |
//! | TIME(p) | `12:34:56.789` (seconds optional on input) |
//! | TIMESTAMP(p) | `2026-11-22 12:34:56.123` (SQL) or `2026-11-22T12:34:56.123` (ISO-8601) |
//! | TIMESTAMP_LTZ(p) | as TIMESTAMP, in UTC, with a `Z` suffix |
//! | BINARY, BYTES | base64 (standard alphabet, padded), as Jackson writes them |
//!
//! Fractions are written with as few digits as the value needs (none when
//! zero), as Flink's `SQL_TIMESTAMP_FORMAT` does.

use core::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Separator between date and time in a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampStyle {
    /// `2026-11-22 12:34:56` (Flink's `SQL`).
    #[default]
    Sql,
    /// `2026-11-22T12:34:56` (Flink's `ISO-8601`).
    Iso8601,
}

/// How a format writes and reads values as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// Timestamp layout.
    pub timestamp: TimestampStyle,
    /// Write DECIMAL like Java's `BigDecimal.toString` (scientific notation
    /// for very small values) instead of `toPlainString`.
    pub decimal_scientific: bool,
}

/// Writes any `Display` value.
pub fn write_display(out: &mut String, v: impl core::fmt::Display) {
    let _ = write!(out, "{v}");
}

/// Writes an integer (without `core::fmt`: the hot path of every encoder).
pub fn write_int<I: itoa::Integer>(out: &mut String, v: I) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Writes `v` with at least `width` digits, zero-padded.
///
/// In 32 bits: inside WASM a 64-bit division by ten is a real divide (LLVM
/// turns a 32-bit one into a multiply), and every date and time field fits.
fn write_padded(out: &mut String, mut v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    // SAFETY: `buf` holds ASCII digits only.
    out.push_str(unsafe { core::str::from_utf8_unchecked(&buf[start..]) });
}

/// The first 40 characters of `text`, for error messages.
pub fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

// ---------------------------------------------------------------------------
// Option values: Flink durations, memory sizes, escaped characters
// ---------------------------------------------------------------------------

/// Parses a Flink duration (`TimeUtils.parsecore::time::Duration`): a number and an
/// optional unit; a bare number is milliseconds.
pub fn parse_duration(text: &str) -> Option<core::time::Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let d = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => core::time::Duration::from_millis(n),
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => core::time::Duration::from_nanos(n),
        "µs" | "us" | "micro" | "micros" | "microsecond" | "microseconds" => core::time::Duration::from_micros(n),
        "s" | "sec" | "secs" | "second" | "seconds" => core::time::Duration::from_secs(n),
        "min" | "m" | "minute" | "minutes" => core::time::Duration::from_secs(n.checked_mul(60)?),
        "h" | "hour" | "hours" => core::time::Duration::from_secs(n.checked_mul(3600)?),
        "d" | "day" | "days" => core::time::Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    Some(d)
}

/// Parses a Flink memory size (`MemorySize.parse`): a number and an
/// optional unit (b, k/kb, m/mb, g/gb, t/tb; powers of 1024); a bare number
/// is bytes.
pub fn parse_memory_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 0,
        "k" | "kb" | "kibibytes" => 10,
        "m" | "mb" | "mebibytes" => 20,
        "g" | "gb" | "gibibytes" => 30,
        "t" | "tb" | "tebibytes" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// A one-character value, with `\t`, `\n`, `\r`, `\\`, `\0` and `\uXXXX`.
pub fn unescape_char(v: &str) -> Option<char> {
    let mut chars = v.chars();
    let c = match (chars.next()?, chars.as_str()) {
        (c, "") => return Some(c),
        ('\\', "t") => '\t',
        ('\\', "n") => '\n',
        ('\\', "r") => '\r',
        ('\\', "\\") => '\\',
        ('\\', "0") => '\0',
        ('\\', rest) if rest.len() == 5 && rest.starts_with('u') => {
            char::from_u32(u32::from_str_radix(&rest[1..], 16).ok()?)?
        }
        _ => return None,
    };
    Some(c)
}

// ---------------------------------------------------------------------------
// Booleans and numbers
// ---------------------------------------------------------------------------

/// `true` or `false`, any case.
pub fn parse_bool(t: &str) -> Result<bool, String> {
    if t.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if t.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("'{}' is not a BOOLEAN (true or false)", excerpt(t)))
    }
}

/// An integer of a type of at most 64 bits, range-checked.
pub fn parse_int<T: TryFrom<i64> + TryFrom<i128>>(t: &str, type_name: &str) -> Result<T, String> {
    // The usual value: up to 18 digits, which cannot overflow, summed in
    // one loop. Then 64 bits; 128-bit arithmetic is emulated in software
    // inside WASM (it was ~5 % of json decoding there), so the wide parse
    // below only sorts out the errors.
    if let Some(v) = small_int(t.as_bytes()).or_else(|| t.parse::<i64>().ok()) {
        return T::try_from(v).map_err(|_| format!("{v} is out of range for {type_name}"));
    }
    let wide: i128 = match t.parse() {
        Ok(v) => v,
        Err(_)
            if !t.is_empty() && t.bytes().skip(usize::from(t.starts_with(['-', '+']))).all(|b| b.is_ascii_digit()) =>
        {
            return Err(format!("{} is out of range for {type_name}", excerpt(t)));
        }
        Err(_) => return Err(format!("'{}' is not an integer ({type_name})", excerpt(t))),
    };
    T::try_from(wide).map_err(|_| format!("{wide} is out of range for {type_name}"))
}

/// `-?[0-9]{1,18}`; `None` for anything else (which `str::parse` judges).
#[inline]
fn small_int(t: &[u8]) -> Option<i64> {
    let (negative, digits) = match t {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, t),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    for &d in digits {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}

/// A FLOAT or DOUBLE: decimal or scientific notation, `NaN`, `Infinity`.
pub fn parse_float<T: FloatText>(t: &str, type_name: &str) -> Result<T, String> {
    if let Some((negative, mantissa, scale)) = small_decimal(t.as_bytes())
        && let Some(v) = T::from_small_decimal(negative, mantissa, scale)
    {
        return Ok(v);
    }
    let normal = match t {
        "Infinity" | "+Infinity" => "inf",
        "-Infinity" => "-inf",
        other => other,
    };
    normal.parse().map_err(|_| format!("'{}' is not a number ({type_name})", excerpt(t)))
}

/// A float type [`parse_float`] reads.
pub trait FloatText: core::str::FromStr + Copy {
    /// `mantissa` / 10^`scale`, negated if `negative`, when that is exact
    /// in one division (both operands exactly representable, so the IEEE
    /// division rounds once, correctly: the value `str::parse` gives).
    fn from_small_decimal(negative: bool, mantissa: u64, scale: usize) -> Option<Self>;
}

impl FloatText for f64 {
    fn from_small_decimal(negative: bool, mantissa: u64, scale: usize) -> Option<f64> {
        const POWERS: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
            1e19, 1e20, 1e21, 1e22,
        ];
        if mantissa >= 1 << 53 {
            return None;
        }
        let v = mantissa as f64 / *POWERS.get(scale)?;
        Some(if negative { -v } else { v })
    }
}

impl FloatText for f32 {
    fn from_small_decimal(negative: bool, mantissa: u64, scale: usize) -> Option<f32> {
        const POWERS: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
        if mantissa >= 1 << 24 {
            return None;
        }
        let v = mantissa as f32 / *POWERS.get(scale)?;
        Some(if negative { -v } else { v })
    }
}

/// `-?[0-9]*(\.[0-9]*)?` with 1 to 19 digits as (negative, the digits as
/// one integer, the number of digits after the point).
#[inline]
fn small_decimal(t: &[u8]) -> Option<(bool, u64, usize)> {
    let (negative, body) = match t {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, t),
    };
    let (mut mantissa, mut digits, mut scale, mut point) = (0u64, 0, 0, false);
    for &c in body {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                digits += 1;
                scale += usize::from(point);
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    (1..=19).contains(&digits).then_some((negative, mantissa, scale))
}

/// Writes a DOUBLE as Java's `Double.toString` does (JDK 19+, shortest
/// round-trip digits): `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`, `Infinity`.
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else if !write_short_plain(out, v) {
        write_java_float(out, ryu::Buffer::new().format_finite(v), v.abs() >= 1e-3 && v.abs() < 1e7 || v == 0.0);
    }
}

/// Writes `v` in the plain range (10^-3 to 10^7) with at most four
/// decimals — prices, measurements: the usual DOUBLE — without ryu (whose
/// 128-bit multiplies are emulated in software inside WASM). `false` for
/// any other value.
///
/// The text is the shortest that reads back as `v`, as ryu's: with the
/// fewest decimals `s` for which `round(v·10^s) / 10^s == v` (both
/// operands exact, so the division rounds once, as parsing the text does),
/// and under 10^15 the digits are the only ones with `s` decimals that do.
fn write_short_plain(out: &mut String, v: f64) -> bool {
    const SCALES: [(f64, u64); 5] = [(1.0, 1), (10.0, 10), (100.0, 100), (1e3, 1_000), (1e4, 10_000)];
    let a = v.abs();
    if !(1e-3..1e7).contains(&a) {
        return false;
    }
    for (decimals, (scale, unit)) in SCALES.into_iter().enumerate() {
        let m = (a * scale).round();
        if m / scale == a {
            let m = m as u64;
            if v < 0.0 {
                out.push('-');
            }
            write_int(out, m / unit);
            out.push('.');
            if decimals == 0 {
                out.push('0');
            } else {
                write_padded(out, (m % unit) as u32, decimals);
            }
            return true;
        }
    }
    false
}

/// Writes a FLOAT as Java's `Float.toString` does.
pub fn write_f32(out: &mut String, v: f32) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        write_java_float(out, ryu::Buffer::new().format_finite(v), v.abs() >= 1e-3 && v.abs() < 1e7 || v == 0.0);
    }
}

/// Lays out ryu's shortest form (`-0.00012`, `1.2345e-7`, `1e21`) the Java
/// way: plain between 10^-3 and 10^7, else `d.dddE±n`.
fn write_java_float(out: &mut String, shortest: &str, plain: bool) {
    let (negative, body) = shortest.strip_prefix('-').map_or((false, shortest), |b| (true, b));
    // The significant digits (no leading or trailing zeros) and the
    // exponent of the first one: value = d.ddd × 10^exp.
    let mut digits = [0u8; 24];
    let mut len = 0;
    let (mantissa, exp_part) = body.split_once('e').unwrap_or((body, ""));
    let mut int_len = 0i32;
    let mut leading_zeros = 0i32;
    let mut seen_point = false;
    for b in mantissa.bytes() {
        match b {
            b'.' => seen_point = true,
            b'0' if len == 0 => leading_zeros += 1,
            digit if len < digits.len() => {
                digits[len] = digit;
                len += 1;
            }
            _ => {}
        }
        if b != b'.' && !seen_point {
            int_len += 1;
        }
    }
    while len > 0 && digits[len - 1] == b'0' {
        len -= 1;
    }
    if negative {
        out.push('-');
    }
    if len == 0 {
        out.push_str("0.0");
        return;
    }
    let exp = int_len - 1 - leading_zeros + exp_part.parse::<i32>().unwrap_or(0);
    let digits = &digits[..len];
    let push = |out: &mut String, ds: &[u8]| ds.iter().for_each(|&d| out.push(char::from(d)));
    if plain {
        if exp < 0 {
            out.push_str("0.");
            out.extend(core::iter::repeat_n('0', (-exp - 1) as usize));
            push(out, digits);
        } else {
            let whole = exp as usize + 1;
            if digits.len() <= whole {
                push(out, digits);
                out.extend(core::iter::repeat_n('0', whole - digits.len()));
                out.push_str(".0");
            } else {
                push(out, &digits[..whole]);
                out.push('.');
                push(out, &digits[whole..]);
            }
        }
    } else {
        push(out, &digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            push(out, &digits[1..])
        } else {
            out.push('0')
        }
        out.push('E');
        write_int(out, exp);
    }
}

// ---------------------------------------------------------------------------
// Decimals
// ---------------------------------------------------------------------------

/// Parses a DECIMAL(precision, scale) to its unscaled value. Accepts an
/// exponent (`1.5E3`). Fails rather than round: more fractional digits than
/// `scale` (unless they are zeros) or more integer digits than
/// `precision - scale` is an error.
pub fn parse_decimal(t: &str, precision: u8, scale: u8) -> Result<i128, String> {
    let bad = || format!("'{}' is not a DECIMAL({precision}, {scale})", excerpt(t));
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (number, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // digits × 10^(-point)
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let mut point = frac_part.len() as i64 - i64::from(exp);
    let mut digits = digits.to_owned();
    // Drop zeros beyond the scale; a non-zero digit there would be lost.
    while point > i64::from(scale) {
        match digits.pop() {
            Some('0') | None => point -= 1,
            Some(_) => {
                return Err(format!(
                    "{} has more than {scale} digits after the point: DECIMAL({precision}, {scale}) would round it",
                    excerpt(t)
                ));
            }
        }
    }
    let zeros = (i64::from(scale) - point) as usize;
    if digits.len() + zeros > usize::from(precision) && !digits.is_empty() {
        return Err(format!("{} does not fit DECIMAL({precision}, {scale})", excerpt(t)));
    }
    let mut unscaled: i128 = 0;
    for b in digits.bytes().chain(core::iter::repeat_n(b'0', if digits.is_empty() { 0 } else { zeros })) {
        unscaled = unscaled * 10 + i128::from(b - b'0');
    }
    Ok(if negative { -unscaled } else { unscaled })
}

/// Writes a DECIMAL's unscaled value with `scale`: plain (`toPlainString`)
/// or as Java's `BigDecimal.toString` (`1.00E-7` for very small values).
pub fn write_decimal(out: &mut String, unscaled: i128, scale: u8, scientific: bool) {
    if unscaled < 0 {
        out.push('-');
    }
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let adjusted = digits.len() as i64 - 1 - scale as i64;
    if scientific && adjusted < -6 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "E{adjusted}");
    } else if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        out.push_str(&digits[..digits.len() - scale]);
        out.push('.');
        out.push_str(&digits[digits.len() - scale..]);
    } else {
        out.push_str("0.");
        out.extend(core::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    }
}

/// Writes a DECIMAL as Flink's csv writer does: `BigDecimal.stripTrailingZeros()`
/// then `toString` — scientific (`1E+2`) when the scale turned negative or
/// the exponent is below -6 (`1E-8`). Without `scientific` (Flink's
/// `write-bigdecimal-in-scientific-notation = false`) a negative scale is
/// written plain (`100`); small values stay `1E-8`, as Flink writes them.
pub fn write_decimal_stripped(out: &mut String, unscaled: i128, scale: u8, scientific: bool) {
    if unscaled == 0 {
        out.push('0');
        return;
    }
    let (mut unscaled, mut scale) = (unscaled, i32::from(scale));
    while unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    if unscaled < 0 {
        out.push('-');
    }
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = digits.len() as i32 - 1 - scale;
    if scale >= 0 && adjusted >= -6 {
        let s = scale as usize;
        if s == 0 {
            out.push_str(&digits);
        } else if digits.len() > s {
            out.push_str(&digits[..digits.len() - s]);
            out.push('.');
            out.push_str(&digits[digits.len() - s..]);
        } else {
            out.push_str("0.");
            out.extend(core::iter::repeat_n('0', s - digits.len()));
            out.push_str(&digits);
        }
    } else if !scientific && scale < 0 {
        // A negative scale: the digits, then that many zeros.
        out.push_str(&digits);
        out.extend(core::iter::repeat_n('0', (-scale) as usize));
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "E{}{adjusted}", if adjusted > 0 { "+" } else { "" });
    }
}

// ---------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01: (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    (s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// `yyyy-MM-dd` (month and day may have one digit) → days since the epoch.
pub fn parse_date(t: &str) -> Result<i32, String> {
    let bad = || format!("'{}' is not a DATE (yyyy-MM-dd)", excerpt(t));
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *t.as_bytes()
        && [y0, y1, y2, y3, m0, m1, d0, d1].iter().all(u8::is_ascii_digit)
    {
        // The usual layout, without splitting.
        let n = |ds: &[u8]| ds.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        let (y, m, d) = (n(&[y0, y1, y2, y3]), n(&[m0, m1]), n(&[d0, d1]));
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
            return Err(format!("'{}' is not a valid date", excerpt(t)));
        }
        return Ok(days_from_civil(i64::from(y), m, d) as i32);
    }
    let mut parts = t.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
    let (y, m, d) =
        (digits(y, 4, 4).ok_or_else(bad)?, digits(m, 1, 2).ok_or_else(bad)?, digits(d, 1, 2).ok_or_else(bad)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return Err(format!("'{}' is not a valid date", excerpt(t)));
    }
    Ok(days_from_civil(i64::from(y), m, d) as i32)
}

/// Writes days since the epoch as `yyyy-MM-dd`.
pub fn write_date(out: &mut String, days: i32) {
    let (y, m, d) = civil_from_days(i64::from(days));
    if (0..=9999).contains(&y) {
        write_padded(out, y as u32, 4);
        out.push('-');
        write_padded(out, m, 2);
        out.push('-');
        write_padded(out, d, 2);
    } else {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    }
}

/// Units per second of a TIME / TIMESTAMP of precision `p` in a batch.
pub fn units_per_second(p: u8) -> i64 {
    match p {
        0 => 1,
        1..=3 => 1_000,
        4..=6 => 1_000_000,
        _ => NANOS_PER_SECOND,
    }
}

/// `HH:mm[:ss[.fffffffff]]` → nanoseconds of the day. Parsed byte by byte
/// (no allocation, no `core::fmt`): it runs for every TIME and TIMESTAMP.
fn parse_nanos_of_day(t: &str, precision: u8, type_name: &str) -> Result<i64, String> {
    let bad = || format!("'{}' is not a {type_name} (HH:mm:ss[.fff])", excerpt(t));
    let b = t.as_bytes();
    let two = |at: usize| match (b.get(at), b.get(at + 1)) {
        (Some(x @ b'0'..=b'9'), Some(y @ b'0'..=b'9')) => Some(i64::from(x - b'0') * 10 + i64::from(y - b'0')),
        _ => None,
    };
    let h = two(0).ok_or_else(bad)?;
    let m = if b.get(2) == Some(&b':') { two(3).ok_or_else(bad)? } else { return Err(bad()) };
    let (s, mut at) = match b.get(5) {
        None => (0, 5),
        Some(b':') => (two(6).ok_or_else(bad)?, 8),
        Some(_) => return Err(bad()),
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    let mut nanos = 0i64;
    if at < b.len() {
        // A fraction needs the seconds, a point and 1 to 9 digits.
        if at != 8 || b[at] != b'.' || b.len() == at + 1 || b.len() > at + 10 {
            return Err(bad());
        }
        at += 1;
        let mut significant = 0;
        for (i, &d) in b[at..].iter().enumerate() {
            if !d.is_ascii_digit() {
                return Err(bad());
            }
            if d != b'0' {
                significant = i + 1;
            }
            nanos += i64::from(d - b'0') * POWERS_OF_TEN[8 - i];
        }
        if significant > usize::from(precision) {
            return Err(format!(
                "{} has more fractional digits than {type_name}({precision}) keeps; it would be truncated",
                excerpt(t)
            ));
        }
    }
    Ok((h * 3600 + m * 60 + s) * NANOS_PER_SECOND + nanos)
}

const POWERS_OF_TEN: [i64; 9] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// A TIME(p) value in batch units (see [`units_per_second`]).
pub fn parse_time(t: &str, precision: u8) -> Result<i64, String> {
    Ok(parse_nanos_of_day(t, precision, "TIME")? / (NANOS_PER_SECOND / units_per_second(precision)))
}

/// Writes nanoseconds of the day as `HH:mm:ss[.f…]` (minimal fraction).
pub fn write_nanos_of_day(out: &mut String, nanos: i64) {
    // A day's seconds and a second's nanoseconds fit 32 bits.
    let secs = (nanos / NANOS_PER_SECOND) as u32;
    write_padded(out, secs / 3600, 2);
    out.push(':');
    write_padded(out, secs / 60 % 60, 2);
    out.push(':');
    write_padded(out, secs % 60, 2);
    let mut frac = (nanos % NANOS_PER_SECOND) as u32;
    if frac != 0 {
        let mut width = 9;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        out.push('.');
        write_padded(out, frac, width);
    }
}

/// Writes a TIME(p) value given in batch units.
pub fn write_time(out: &mut String, value: i64, precision: u8) -> Result<(), String> {
    let nanos = value.checked_mul(NANOS_PER_SECOND / units_per_second(precision)).unwrap_or(-1);
    if !(0..SECONDS_PER_DAY * NANOS_PER_SECOND).contains(&nanos) {
        return Err(format!("{value} is not a time of day for TIME({precision})"));
    }
    write_nanos_of_day(out, nanos);
    Ok(())
}

/// A TIMESTAMP(p) (or, with `ltz`, a TIMESTAMP_LTZ(p) in UTC ending in
/// `Z`) in batch units since the epoch.
pub fn parse_timestamp(t: &str, precision: u8, style: TimestampStyle, ltz: bool) -> Result<i64, String> {
    let type_name = if ltz { "TIMESTAMP_LTZ" } else { "TIMESTAMP" };
    let sep = if style == TimestampStyle::Sql { ' ' } else { 'T' };
    let layout = || {
        format!(
            "'{}' is not a {type_name} (yyyy-MM-dd{}HH:mm:ss[.fff]{})",
            excerpt(t),
            if sep == ' ' { " " } else { "T" },
            if ltz { "Z" } else { "" }
        )
    };
    let body = if ltz { t.strip_suffix('Z').ok_or_else(layout)? } else { t };
    let (date, time) = match body.as_bytes().get(10) {
        // The usual layout: the separator right after yyyy-MM-dd.
        Some(&b) if b == sep as u8 => (&body[..10], &body[11..]),
        _ => body.split_once(sep).ok_or_else(layout)?,
    };
    let days = parse_date(date).map_err(|_| layout())?;
    let nanos = parse_nanos_of_day(time, precision, type_name)
        .map_err(|e| if e.contains("fractional") { e } else { layout() })?;
    let unit = units_per_second(precision);
    i64::from(days)
        .checked_mul(SECONDS_PER_DAY * unit)
        .and_then(|d| d.checked_add(nanos / (NANOS_PER_SECOND / unit)))
        .ok_or_else(|| format!("{} is out of range for {type_name}({precision})", excerpt(t)))
}

/// Writes a TIMESTAMP(p) / TIMESTAMP_LTZ(p) given in batch units.
pub fn write_timestamp(out: &mut String, value: i64, precision: u8, style: TimestampStyle, ltz: bool) {
    let unit = units_per_second(precision);
    let secs = value.div_euclid(unit);
    let sub = value.rem_euclid(unit) * (NANOS_PER_SECOND / unit);
    write_date(out, secs.div_euclid(SECONDS_PER_DAY) as i32);
    out.push(if style == TimestampStyle::Sql { ' ' } else { 'T' });
    write_nanos_of_day(out, secs.rem_euclid(SECONDS_PER_DAY) * NANOS_PER_SECOND + sub);
    if ltz {
        out.push('Z');
    }
}

/// Writes nanoseconds of the day as Java's `LocalTime.toString`: `HH:mm`,
/// then `:ss` when seconds or a fraction are non-zero, the fraction in
/// groups of three digits (how Flink's print sink shows TIME).
pub fn write_java_time(out: &mut String, nanos: i64) {
    write_java_clock(out, nanos, false);
}

/// `LocalTime.toString`, or with `seconds` the layout of `Instant.toString`
/// (seconds always shown).
fn write_java_clock(out: &mut String, nanos: i64, seconds: bool) {
    let secs = nanos / NANOS_PER_SECOND;
    let frac = nanos % NANOS_PER_SECOND;
    let _ = write!(out, "{:02}:{:02}", secs / 3600, secs / 60 % 60);
    if seconds || secs % 60 != 0 || frac != 0 {
        let _ = write!(out, ":{:02}", secs % 60);
    }
    if frac != 0 {
        if frac % 1_000_000 == 0 {
            let _ = write!(out, ".{:03}", frac / 1_000_000);
        } else if frac % 1_000 == 0 {
            let _ = write!(out, ".{:06}", frac / 1_000);
        } else {
            let _ = write!(out, ".{frac:09}");
        }
    }
}

/// Writes a TIMESTAMP(p) value as Java's `LocalDateTime.toString`
/// (`2024-02-01T00:00`, seconds only when non-zero) or, with `instant`, a
/// TIMESTAMP_LTZ(p) as `Instant.toString` (`1970-01-01T00:00:00Z`).
pub fn write_java_timestamp(out: &mut String, value: i64, precision: u8, instant: bool) {
    let unit = units_per_second(precision);
    let secs = value.div_euclid(unit);
    let sub = value.rem_euclid(unit) * (NANOS_PER_SECOND / unit);
    write_date(out, secs.div_euclid(SECONDS_PER_DAY) as i32);
    out.push('T');
    write_java_clock(out, secs.rem_euclid(SECONDS_PER_DAY) * NANOS_PER_SECOND + sub, instant);
    if instant {
        out.push('Z');
    }
}

/// Writes bytes as Java's `Arrays.toString(byte[])`: `[1, -2, 3]`.
pub fn write_java_bytes(out: &mut String, bytes: &[u8]) {
    out.push('[');
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}", *b as i8);
    }
    out.push(']');
}

// ---------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------

/// Standard padded base64, as Jackson writes BINARY values.
pub fn parse_base64(t: &str) -> Result<Vec<u8>, String> {
    BASE64.decode(t).map_err(|e| format!("'{}' is not base64: {e}", excerpt(t)))
}

/// Writes bytes as standard padded base64.
pub fn write_base64(out: &mut String, bytes: &[u8]) {
    BASE64.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    /// The plain fast path writes what ryu's shortest form laid out the
    /// Java way writes.
    #[test]
    fn short_plain_doubles_are_written_as_ryu_writes_them() {
        let mut h = 11u64;
        let mut values = vec![0.001, 0.0015, 9_999_999.999_9, 1234.5, 12.0, 0.1, 0.3, 0.7, 1e6, 5e-3, 2.675, 1.005];
        for _ in 0..50_000 {
            h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let digits = (h >> 20) % 100_000_000_000;
            let scale = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5][(h >> 60) as usize % 6];
            let v = digits as f64 / scale;
            values.extend([v, -v, f64::from_bits(v.to_bits() + 1)]);
        }
        for v in values {
            let (mut fast, mut slow) = (String::new(), String::new());
            write_f64(&mut fast, v);
            write_java_float(
                &mut slow,
                ryu::Buffer::new().format_finite(v),
                v.abs() >= 1e-3 && v.abs() < 1e7 || v == 0.0,
            );
            assert_eq!(fast, slow, "{v:?}");
        }
    }

    /// The one-division fast paths give exactly what `str::parse` gives,
    /// and leave everything else to it.
    #[test]
    fn fast_number_paths_agree_with_str_parse() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            ".5",
            "5.",
            ".",
            "-",
            "",
            "1e5",
            "+1",
            "--1",
            "1.2.3",
            "0.1",
            "0.3",
            "123.45",
            "9007199254740991",
            "9007199254740993",
            "12345678901234567890",
            "999999999999999999",
            "-999999999999999999",
            "1000000000000000000",
            "9223372036854775807",
            "-9223372036854775808",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "16777217",
            "3.4028235",
            "1 ",
            " 1",
            "١",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut h = 7u64;
        for _ in 0..20_000 {
            h = h.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let digits = 1 + (h >> 60) as usize;
            let point = (h >> 50) as usize % (digits + 2);
            let mut text = String::new();
            if h & 1 == 1 {
                text.push('-');
            }
            for d in 0..digits {
                if d == point {
                    text.push('.');
                }
                text.push(char::from(b'0' + ((h >> (d * 3 % 48)) % 10) as u8));
            }
            cases.push(text);
        }
        for case in &cases {
            assert_eq!(parse_float::<f64>(case, "DOUBLE").ok(), case.parse::<f64>().ok(), "{case}");
            assert_eq!(parse_float::<f32>(case, "FLOAT").ok(), case.parse::<f32>().ok(), "{case}");
            let int = parse_int::<i64>(case, "BIGINT").ok();
            assert_eq!(int, case.parse::<i64>().ok(), "{case}");
        }
    }

    #[test]
    fn stripped_decimals_read_as_java_writes_them() {
        let w = |u: i128, s: u8, sci: bool| {
            let mut out = String::new();
            super::write_decimal_stripped(&mut out, u, s, sci);
            out
        };
        assert_eq!(w(150, 2, true), "1.5");
        assert_eq!(w(1_000_000_000_000, 10, true), "1E+2");
        assert_eq!(w(1_000_000_000_000, 10, false), "100");
        assert_eq!(w(123, 10, true), "1.23E-8");
        assert_eq!(w(123, 10, false), "1.23E-8");
        assert_eq!(w(123_000_000_000, 9, false), "123");
        assert_eq!(w(-5, 2, true), "-0.05");
        assert_eq!(w(0, 2, true), "0");
        assert_eq!(w(12_300, 0, true), "1.23E+4");
    }

    use super::*;

    fn f64s(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    #[test]
    fn doubles_print_like_java() {
        for (v, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.5e-4, "1.5E-4"),
            (9_999_999.0, "9999999.0"),
            (1e7, "1.0E7"),
            (1.2345e10, "1.2345E10"),
            (-2.5, "-2.5"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(f64s(v), want, "{v}");
            if v.is_finite() {
                assert_eq!(parse_float::<f64>(want, "DOUBLE"), Ok(v));
            }
        }
        let mut s = String::new();
        write_f32(&mut s, 0.1);
        assert_eq!(s, "0.1");
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(parse_int::<i8>("-128", "TINYINT"), Ok(-128));
        assert_eq!(parse_int::<i8>("128", "TINYINT"), Err("128 is out of range for TINYINT".into()));
        assert!(parse_int::<i64>("99999999999999999999999999", "BIGINT").unwrap_err().contains("out of range"));
        assert!(parse_int::<i32>("12a", "INT").unwrap_err().contains("not an integer"));
        assert!(parse_int::<i32>("", "INT").is_err());
    }

    #[test]
    fn decimals_never_round() {
        assert_eq!(parse_decimal("123.45", 5, 2), Ok(12345));
        assert_eq!(parse_decimal("-0.5", 5, 2), Ok(-50));
        assert_eq!(parse_decimal("1.2E2", 5, 2), Ok(12000));
        assert_eq!(parse_decimal("1.500", 5, 2), Ok(150));
        assert_eq!(parse_decimal("0", 5, 2), Ok(0));
        assert_eq!(parse_decimal("0.000", 5, 2), Ok(0));
        assert!(parse_decimal("1.234", 5, 2).unwrap_err().contains("round"));
        assert!(parse_decimal("1234.5", 5, 2).unwrap_err().contains("does not fit"));
        assert!(parse_decimal("1.2.3", 5, 2).is_err());
        assert!(parse_decimal(".", 5, 2).is_err());
        let max = "9".repeat(38);
        assert_eq!(parse_decimal(&max, 38, 0), Ok(max.parse::<i128>().unwrap()));
        assert!(parse_decimal(&format!("{max}9"), 38, 0).is_err());

        let dec = |v, s, sci| {
            let mut out = String::new();
            write_decimal(&mut out, v, s, sci);
            out
        };
        assert_eq!(dec(12345, 2, false), "123.45");
        assert_eq!(dec(-5, 2, false), "-0.05");
        assert_eq!(dec(100, 9, true), "1.00E-7");
        assert_eq!(dec(100, 9, false), "0.000000100");
        assert_eq!(dec(1, 6, true), "0.000001");
        assert_eq!(dec(7, 0, true), "7");
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2000-02-29"), Ok(11_016));
        assert!(parse_date("2001-02-29").is_err());
        assert!(parse_date("2001-13-01").is_err());
        for days in [-719_528, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let mut s = String::new();
            write_date(&mut s, days);
            assert_eq!(parse_date(&s), Ok(days), "{s}");
        }
        assert_eq!(parse_time("12:34:56.789", 3), Ok(45_296_789));
        assert_eq!(parse_time("12:34", 0), Ok(45_240));
        assert!(parse_time("12:34:56.789", 0).unwrap_err().contains("truncated"));
        assert_eq!(parse_time("12:34:56.000", 0), Ok(45_296));

        let ts = parse_timestamp("2026-11-22 12:34:56.5", 3, TimestampStyle::Sql, false).unwrap();
        assert_eq!(ts, 1_795_350_896_500);
        let mut s = String::new();
        write_timestamp(&mut s, ts, 3, TimestampStyle::Iso8601, true);
        assert_eq!(s, "2026-11-22T12:34:56.5Z");
        assert_eq!(parse_timestamp(&s, 3, TimestampStyle::Iso8601, true), Ok(ts));
        assert!(parse_timestamp(&s, 3, TimestampStyle::Sql, true).is_err());
        assert!(parse_timestamp("2026-11-22T12:34:56", 3, TimestampStyle::Iso8601, true).is_err());
        let before_epoch = parse_timestamp("1969-12-31 23:59:59.999999", 6, TimestampStyle::Sql, false).unwrap();
        assert_eq!(before_epoch, -1);
        let mut s = String::new();
        write_timestamp(&mut s, -1, 6, TimestampStyle::Sql, false);
        assert_eq!(s, "1969-12-31 23:59:59.999999");
    }
}
