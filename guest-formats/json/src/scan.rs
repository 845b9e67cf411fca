//! The fast path of decoding: one pass over a record that is a flat JSON
//! object, each top-level value cut out as a slice for its column, keys
//! matched against the schema in the order they usually come.
//!
//! It accepts exactly what `serde_json` accepts, or declines: anything it
//! does not handle itself — an escaped key, invalid UTF-8, a syntax error
//! anywhere — returns `None`, and the caller takes the general path, which
//! reads the same record with `serde_json` and gives the precise error. So
//! the two paths can only differ in speed (`tests` below and the format
//! tests compare them).

/// A top-level value cut out of a record: its JSON text, and whether it is
/// a string with escapes (one without is its own value between the quotes).
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    pub text: &'a str,
    pub escaped: bool,
}

impl<'a> Raw<'a> {
    /// A value serde_json cut out (the general path).
    pub fn of(text: &'a str) -> Raw<'a> {
        Raw { text, escaped: text.starts_with('"') && text.contains('\\') }
    }
}

/// Cuts the top-level values of the JSON object `b` into `found`, by the
/// position of their key in `names` (unknown keys are validated and
/// skipped; a repeated key keeps its last value, as the general path does).
/// `None` when the record needs the general path.
///
/// The record is not checked for UTF-8 as a whole: outside strings the
/// grammar admits ASCII only, and a string with a byte above 0x7F is
/// checked on its own.
pub fn object<'a>(b: &'a [u8], names: &[String], found: &mut [Option<Raw<'a>>]) -> Option<()> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut next = 0;
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (end, escaped) = string_end(b, i)?;
            if escaped {
                return None;
            }
            let key = &b[i + 1..end - 1];
            i = skip_ws(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            let start = i;
            let escaped;
            (i, escaped) = value_end(b, i)?;
            if let Some(c) = column(names, next, key) {
                // SAFETY: `value_end` admits ASCII only outside strings,
                // checks every string holding other bytes with `from_utf8`,
                // and nested values too; so `b[start..i]` is UTF-8.
                let text = unsafe { std::str::from_utf8_unchecked(&b[start..i]) };
                found[c] = Some(Raw { text, escaped });
                next = c + 1;
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    (skip_ws(b, i) == b.len()).then_some(())
}

/// The column named `key`. Keys usually come in schema order, so the one
/// after the last found (`next`) is tried first.
#[inline(always)]
pub fn column(names: &[String], next: usize, key: &[u8]) -> Option<usize> {
    if names.get(next).is_some_and(|n| n.as_bytes() == key) {
        Some(next)
    } else {
        names.iter().position(|n| n.as_bytes() == key)
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index after the closing quote of the string opening at `i`, and
/// whether it holds escapes; `None` for a raw control character, a
/// malformed escape or bytes that are not UTF-8.
#[inline(always)]
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    let mut non_ascii = false;
    loop {
        let k = if non_ascii { special::<false>(b, j) } else { special::<true>(b, j) };
        match *b.get(k)? {
            b'"' => {
                if non_ascii {
                    std::str::from_utf8(&b[i + 1..k]).ok()?;
                }
                return Some((k + 1, escaped));
            }
            b'\\' => {
                escaped = true;
                j = match b.get(k + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => k + 2,
                    b'u' => {
                        let hex = b.get(k + 2..k + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        // Surrogates must pair up; serde_json checks that.
                        if matches!(hex[0], b'd' | b'D') && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F') {
                            return None;
                        }
                        k + 6
                    }
                    _ => return None,
                };
            }
            // Checked as a whole at the closing quote.
            0x80.. => {
                non_ascii = true;
                j = k + 1;
            }
            _ => return None,
        }
    }
}

/// The index of the first byte from `j` on that ends a run of plain string
/// bytes: a quote, a backslash, a control character, and with `HIGH` a byte
/// above 0x7F; `b.len()` if there is none. Sixteen bytes at a time with
/// SIMD (`simd128` inside the component, SSE2 natively): a string is
/// scanned once, and a short one without a call.
#[inline(always)]
pub fn special<const HIGH: bool>(b: &[u8], mut j: usize) -> usize {
    #[cfg(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64"))]
    while j + 16 <= b.len() {
        // SAFETY: the 16 bytes read start at `j` and end within `b`;
        // unaligned loads are allowed.
        let mask = unsafe { special_mask::<HIGH>(b.as_ptr().add(j)) };
        if mask != 0 {
            return j + mask.trailing_zeros() as usize;
        }
        j += 16;
    }
    while let Some(&c) = b.get(j) {
        if c == b'"' || c == b'\\' || c < 0x20 || (HIGH && c >= 0x80) {
            return j;
        }
        j += 1;
    }
    j
}

/// Bit `n` set when byte `n` of the 16 at `p` is special (see [`special`]).
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn special_mask<const HIGH: bool>(p: *const u8) -> u32 {
    use core::arch::wasm32::*;
    // SAFETY: the caller's promise; `v128_load` has no alignment requirement.
    let v = unsafe { v128_load(p.cast()) };
    let quote_or_escape = v128_or(u8x16_eq(v, u8x16_splat(b'"')), u8x16_eq(v, u8x16_splat(b'\\')));
    // As signed bytes, one compare finds control characters and (HIGH) bytes above 0x7F.
    let low = if HIGH { i8x16_lt(v, i8x16_splat(0x20)) } else { u8x16_lt(v, u8x16_splat(0x20)) };
    u32::from(u8x16_bitmask(v128_or(quote_or_escape, low)))
}

/// See the `wasm32` version.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn special_mask<const HIGH: bool>(p: *const u8) -> u32 {
    use core::arch::x86_64::*;
    // SAFETY: the caller's promise; `_mm_loadu_si128` has no alignment
    // requirement, and SSE2 is part of every x86-64.
    unsafe {
        let v = _mm_loadu_si128(p.cast());
        let quote_or_escape =
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)), _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)));
        let low = if HIGH {
            _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))
        } else {
            // Unsigned v < 0x20: min(v, 0x1F) == v.
            _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v)
        };
        _mm_movemask_epi8(_mm_or_si128(quote_or_escape, low)) as u32
    }
}

/// The index after the JSON value starting at `i`, and whether it is a
/// string with escapes.
#[inline(always)]
fn value_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let end = match *b.get(i)? {
        b'"' => return string_end(b, i),
        b't' => b[i..].starts_with(b"true").then_some(i + 4),
        b'f' => b[i..].starts_with(b"false").then_some(i + 5),
        b'n' => b[i..].starts_with(b"null").then_some(i + 4),
        b'-' | b'0'..=b'9' => number_end(b, i),
        b'{' | b'[' => {
            // Nested: find the matching bracket, then let serde_json check
            // the whole value (depth limit and UTF-8 included).
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let text = std::str::from_utf8(&b[i..=j]).ok()?;
            serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
            Some(j + 1)
        }
        _ => None,
    };
    Some((end?, false))
}

/// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b[i] == b'-' {
        i += 1;
    }
    i = match b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(b, i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that the fast path accepts `case` only if serde_json does, and
    /// then cuts the same values with the right `escaped` flag.
    fn check(case: &[u8], names: &[String]) -> Option<()> {
        let mut found = vec![None; names.len()];
        let fast = object(case, names, &mut found);
        let general = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(case);
        let shown = String::from_utf8_lossy(case);
        match (fast, general) {
            (Some(()), Ok(map)) => {
                for (name, got) in names.iter().zip(found) {
                    let want = map.get(name);
                    if let Some(raw) = got {
                        assert_eq!(raw.escaped, raw.text.starts_with('"') && raw.text.contains('\\'), "{shown}");
                    }
                    let got = got.map(|raw| serde_json::from_str::<serde_json::Value>(raw.text).expect("a JSON value"));
                    assert_eq!(got.as_ref(), want, "{shown}: {name}");
                }
            }
            (Some(()), Err(e)) => panic!("{shown}: accepted, but serde_json says {e}"),
            (None, _) => {}
        }
        fast
    }

    #[test]
    fn agrees_with_serde_json_or_declines() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let cases = [
            r#"{"a": 1, "b": "x", "c": true}"#,
            r#"{"c":null,"a":-0.5e+3,"b":"q\"\\\/\b\f\n\r\t\u00e9"}"#,
            r#"  {"a" : [1, {"x": "]"}], "zz": {"k": [true, false, null]}, "b": {"n": "}"}}  "#,
            r#"{}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": -}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": tru}"#,
            r#"{"a": nul}"#,
            r#"{"a": "x
y"}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\ud83d\ude00"}"#,
            r#"{"a": 1,}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1"#,
            r#"{"a" 1}"#,
            r#"{a: 1}"#,
            r#"{"a\u0062": 1}"#,
            r#"{"a": [1, 2}"#,
            r#"{"a": {"x": 1,}}"#,
            r#"{"b": "é", "c": 12345678901234567890123}"#,
            r#"[1, 2]"#,
            r#""a""#,
            "",
            // Strings longer than one 16-byte step, special bytes on either side of a step.
            r#"{"b": "a long name, longer than sixteen bytes", "c": "0123456789abcde\"f"}"#,
            r#"{"b": "0123456789abcdefghé0123456789abcdefghijé", "a": "0123456789abcdef\\"}"#,
            "{\"b\": \"0123456789abcdefghijklmnopq\u{1}r\"}",
            "{\"b\": \"0123456789abcdéfghijklmnopq\u{1f}r\"}",
            "{\"b\": \"0123456789abcdéfghijklmnopq\u{7f}r\"}",
            "{\"a\u{e9}0123456789abcdef\": 1, \"b\": 2}",
            "{\u{e9}\"a\": 1}",
        ];
        for case in cases {
            check(case.as_bytes(), &names);
        }
        // Not UTF-8: in a value, in a key, in a long string, outside strings.
        for case in [
            &b"{\"b\": \"\xff\"}"[..],
            b"{\"b\": \"0123456789abcdefghij\xc3\x28\"}",
            b"{\"\xe9\": 1}",
            b"{\"a\": 1 \xa0}",
            b"{\"b\": \"\xed\xa0\x80\"}",
        ] {
            assert!(check(case, &names).is_none(), "{}", String::from_utf8_lossy(case));
        }
        // What the fast path must not decline (the common records).
        for case in [cases[0], cases[1], cases[2], cases[3], cases[4], cases[25], cases[29], cases[30], cases[33]] {
            assert!(object(case.as_bytes(), &names, &mut [None; 3]).is_some(), "{case}");
        }
    }
}
