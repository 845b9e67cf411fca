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

use memchr::memchr2;

/// Cuts the top-level values of the JSON object `text` into `found`, by
/// the position of their key in `names` (unknown keys are validated and
/// skipped; a repeated key keeps its last value, as the general path does).
/// `None` when the record needs the general path.
pub fn object<'a>(text: &'a str, names: &[String], found: &mut [Option<&'a str>]) -> Option<()> {
    let b = text.as_bytes();
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
            let end = string_end(b, i)?;
            let key = &b[i + 1..end - 1];
            if key.contains(&b'\\') {
                return None;
            }
            i = skip_ws(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1);
            let start = i;
            i = value_end(b, i)?;
            let value = &text[start..i];
            if let Some(c) = column(names, next, key) {
                found[c] = Some(value);
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

/// The index after the closing quote of the string opening at `i`;
/// `None` for a raw control character or a malformed escape.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j..k].iter().any(|&c| c < 0x20) {
            return None;
        }
        if b[k] == b'"' {
            return Some(k + 1);
        }
        match b.get(k + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j = k + 2,
            b'u' => {
                let hex = b.get(k + 2..k + 6)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                // Surrogates must pair up; serde_json checks that.
                if matches!(hex[0], b'd' | b'D') && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F') {
                    return None;
                }
                j = k + 6;
            }
            _ => return None,
        }
    }
}

/// The index after the JSON value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b't' => b[i..].starts_with(b"true").then_some(i + 4),
        b'f' => b[i..].starts_with(b"false").then_some(i + 5),
        b'n' => b[i..].starts_with(b"null").then_some(i + 4),
        b'-' | b'0'..=b'9' => number_end(b, i),
        b'{' | b'[' => {
            // Nested: find the matching bracket, then let serde_json check
            // the whole value (depth limit included).
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
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
    }
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

    /// The fast path accepts a record only if serde_json does, and then
    /// cuts the same values.
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
        ];
        for case in cases {
            let mut found = [None; 3];
            let fast = object(case, &names, &mut found);
            let general = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(case);
            match (fast, general) {
                (Some(()), Ok(map)) => {
                    for (name, got) in names.iter().zip(found) {
                        let want = map.get(name);
                        let got = got.map(|t| serde_json::from_str::<serde_json::Value>(t).expect("a JSON value"));
                        assert_eq!(got.as_ref(), want, "{case}: {name}");
                    }
                }
                (Some(()), Err(e)) => panic!("{case}: accepted, but serde_json says {e}"),
                (None, _) => {}
            }
        }
        // What the fast path must not decline (the common records).
        for case in [cases[0], cases[1], cases[2], cases[3], cases[4], cases[25]] {
            assert!(object(case, &names, &mut [None; 3]).is_some(), "{case}");
        }
    }
}
