//! Text a component controls, made safe to show on a terminal.
//!
//! A component chooses its spec's descriptions, its error messages, its
//! stderr and the values it returns. Printed raw, an escape sequence or a
//! carriage return in any of them can rewrite what the operator sees (a
//! rendered `weir inspect` that hides a capability, a forged "ok" line).
//! Everything of that kind passes through [`escape`] (or [`escape_lines`])
//! before it is printed, and through [`bounded`] where its size is the
//! component's choice.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` can change what a terminal shows beyond printing a glyph:
/// C0 and C1 control characters, DEL, and the bidirectional overrides and
/// isolates (which reorder the text around them).
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// `text` with every control character (line breaks too) written as a
/// Rust-style escape: `\u{1b}`, `\n`, `\r`, `\t`.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_with(text, false)
}

/// Like [`escape`], but keeps line breaks (`\n`), for multi-line text such as
/// a component's stderr or an error that lists several problems.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_with(text, true)
}

fn escape_with(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !(keep_newlines && c == '\n')) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` cut to at most `max` bytes (on a character boundary), saying how
/// much was dropped.
pub fn bounded(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let end = text.floor_char_boundary(max);
    let dropped = text.len() - end;
    text.truncate(end);
    let _ = write!(text, "… ({dropped} more bytes dropped)");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(escape("a\u{1b}[2Kb\rc\nd\te\u{7f}\u{9b}"), "a\\u{1b}[2Kb\\rc\\nd\\te\\u{7f}\\u{9b}");
        assert_eq!(escape("x\u{202E}y"), "x\\u{202e}y");
        assert_eq!(escape_lines("one\ntwo\u{1b}]0;t\u{7}"), "one\ntwo\\u{1b}]0;t\\u{7}");
    }

    #[test]
    fn bounded_cuts_on_a_character_boundary_and_says_so() {
        assert_eq!(bounded("short".into(), 10), "short");
        assert_eq!(bounded("ééé".into(), 3), "é… (4 more bytes dropped)");
    }
}
