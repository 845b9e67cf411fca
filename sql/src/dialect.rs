//! Flink SQL on `sqlparser`: a dialect that is the generic one plus Flink's
//! metadata columns, and a token pass for the type syntax `sqlparser` spells
//! differently.
//!
//! `sqlparser` 0.59 reads `ARRAY<T>`, `MAP(K, V)` and `STRUCT<f T>`; Flink
//! writes `ARRAY<T>`, `MAP<K, V>` and `ROW<f T>`, and `TIMESTAMP(p) WITH
//! LOCAL TIME ZONE`. [`flink_tokens`] rewrites those tokens (keeping each
//! token's position, so errors still point into the user's file) before
//! the parser sees them. No SQL is parsed by hand.

use std::any::TypeId;

use sqlparser::ast::ColumnOption;
use sqlparser::dialect::{Dialect, GenericDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// Flink's dialect: the generic dialect plus `METADATA [FROM 'key']
/// [VIRTUAL]` column options.
#[derive(Debug, Default)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    /// Parse like the generic dialect everywhere `sqlparser` asks which
    /// dialect this is (e.g. `STRUCT<…>` types).
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        GenericDialect.is_identifier_part(ch)
    }

    /// Flink quotes identifiers with backticks.
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`' || ch == '"'
    }

    /// `FOR SYSTEM_TIME AS OF` (lookup joins).
    fn supports_timestamp_versioning(&self) -> bool {
        true
    }

    fn parse_column_option(
        &self,
        parser: &mut Parser<'_>,
    ) -> Result<Option<Result<Option<ColumnOption>, ParserError>>, ParserError> {
        if !parser.parse_keyword(Keyword::METADATA) {
            return Ok(None);
        }
        let mut tokens = vec![Token::make_keyword("METADATA")];
        if parser.parse_keyword(Keyword::FROM) {
            tokens.push(Token::make_keyword("FROM"));
            tokens.push(Token::SingleQuotedString(parser.parse_literal_string()?));
        }
        if parser.parse_keyword(Keyword::VIRTUAL) {
            tokens.push(Token::make_keyword("VIRTUAL"));
        }
        Ok(Some(Ok(Some(ColumnOption::DialectSpecific(tokens)))))
    }
}

/// Tokenizes `sql` and rewrites Flink's type spellings for `sqlparser`:
/// `MAP<K, V>` → `MAP(K, V)`, `ROW<…>` → `STRUCT<…>`, and `WITH LOCAL TIME
/// ZONE` → `WITH TIME ZONE` (read back as TIMESTAMP_LTZ).
pub fn flink_tokens(sql: &str) -> Result<Vec<TokenWithSpan>, sqlparser::tokenizer::TokenizerError> {
    let tokens = Tokenizer::new(&FlinkDialect, sql).tokenize_with_location()?;
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    // One entry per open `<`: whether it was a MAP's (closed by `)`).
    let mut open: Vec<bool> = Vec::new();
    // Inside Flink's `PARTITIONED BY (a, b)`, which names columns without
    // types: each name gets a placeholder type for sqlparser's Hive form
    // (the column's declared type is the one used).
    let mut partition_list = false;
    let close = |out: &mut Vec<TokenWithSpan>, open: &mut Vec<bool>, span| {
        let token = if open.pop() == Some(true) { Token::RParen } else { Token::Gt };
        out.push(TokenWithSpan { token, span });
    };
    for t in tokens {
        let last_word =
            out.iter().rev().find(|t| !matches!(t.token, Token::Whitespace(_))).and_then(|t| match &t.token {
                Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
                _ => None,
            });
        match &t.token {
            Token::Lt if last_word.as_deref() == Some("MAP") => {
                open.push(true);
                out.push(TokenWithSpan { token: Token::LParen, span: t.span });
            }
            Token::Lt if last_word.as_deref() == Some("ROW") => {
                if let Some(row) = out.iter_mut().rev().find(|t| !matches!(t.token, Token::Whitespace(_))) {
                    row.token = Token::make_keyword("STRUCT");
                }
                open.push(false);
                out.push(t);
            }
            Token::Lt if last_word.as_deref() == Some("ARRAY") || last_word.as_deref() == Some("STRUCT") => {
                open.push(false);
                out.push(t);
            }
            Token::Gt if !open.is_empty() => close(&mut out, &mut open, t.span),
            Token::ShiftRight if !open.is_empty() => {
                close(&mut out, &mut open, t.span);
                close(&mut out, &mut open, t.span);
            }
            Token::LParen if last_word.as_deref() == Some("BY") && partitioned_before(&out) => {
                partition_list = true;
                out.push(t);
            }
            Token::Comma | Token::RParen if partition_list => {
                let span = t.span;
                out.push(TokenWithSpan { token: Token::Whitespace(sqlparser::tokenizer::Whitespace::Space), span });
                out.push(TokenWithSpan { token: Token::make_keyword("STRING"), span });
                partition_list = matches!(t.token, Token::Comma);
                out.push(t);
            }
            Token::Word(w) if w.keyword == Keyword::LOCAL && last_word.as_deref() == Some("WITH") => {
                // `WITH LOCAL TIME ZONE`: drop LOCAL (and its whitespace).
                if matches!(out.last().map(|t| &t.token), Some(Token::Whitespace(_))) {
                    out.pop();
                }
            }
            _ => out.push(t),
        }
    }
    Ok(vector_search_arguments(computed_columns(out)))
}

/// Inside `VECTOR_SEARCH(…)`, Flink's table argument `TABLE name` becomes
/// the plain `name` and `MAP['k', 'v']` becomes `ARRAY['k', 'v']`, which
/// `sqlparser` reads as function arguments; the SQL front end knows which
/// argument is the table and which the config.
fn vector_search_arguments(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let significant = |t: &TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    // The depth of VECTOR_SEARCH's own parentheses, while inside them.
    let mut depth = 0usize;
    let mut inside: Option<usize> = None;
    let mut pending_call = false;
    for (i, t) in tokens.iter().enumerate() {
        let previous = out.iter().rev().find(|t| significant(t)).map(|t| t.token.clone());
        match &t.token {
            Token::Word(w) if inside.is_none() && w.value.eq_ignore_ascii_case("VECTOR_SEARCH") => pending_call = true,
            Token::LParen => {
                depth += 1;
                if pending_call {
                    inside = Some(depth);
                    pending_call = false;
                }
            }
            Token::RParen => {
                if inside == Some(depth) {
                    inside = None;
                }
                depth = depth.saturating_sub(1);
            }
            Token::Word(w)
                if inside == Some(depth)
                    && w.keyword == Keyword::TABLE
                    && matches!(previous, Some(Token::LParen | Token::Comma | Token::RArrow)) =>
            {
                // Drop `TABLE` (the whitespace after it stays).
                continue;
            }
            Token::Word(w)
                if inside.is_some()
                    && w.value.eq_ignore_ascii_case("MAP")
                    && tokens[i + 1..].iter().find(|t| significant(t)).is_some_and(|t| t.token == Token::LBracket) =>
            {
                out.push(TokenWithSpan { token: Token::make_keyword("ARRAY"), span: t.span });
                continue;
            }
            Token::Whitespace(_) => {}
            _ => pending_call = false,
        }
        out.push(t.clone());
    }
    out
}

/// The placeholder type a computed column gets for `sqlparser`, which
/// wants a type before `AS (…)`; the SQL front end recognises it.
pub const COMPUTED: &str = "WEIR_COMPUTED";

/// Flink's computed columns, `name AS expression` in a CREATE TABLE's
/// column list, become `name WEIR_COMPUTED AS (expression)`, the
/// generated-column form `sqlparser` reads.
fn computed_columns(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let significant = |t: &TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
    let word = |t: &TokenWithSpan, k: Keyword| matches!(&t.token, Token::Word(w) if w.keyword == k);
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut depth = 0usize;
    // The depth just inside a CREATE TABLE's column list, while in it.
    let mut list: Option<usize> = None;
    let mut after_create_table = false;
    let mut column_start = false;
    // Inside a computed column's expression (its `(` was added).
    let mut computing = false;
    let mut last_word: Option<Keyword> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let span = t.span;
        match &t.token {
            Token::Word(w)
                if w.keyword == Keyword::TABLE && matches!(last_word, Some(Keyword::CREATE | Keyword::TEMPORARY)) =>
            {
                after_create_table = true;
            }
            Token::LParen => {
                depth += 1;
                if after_create_table && list.is_none() {
                    list = Some(depth);
                    after_create_table = false;
                    column_start = true;
                    out.push(t.clone());
                    i += 1;
                    continue;
                }
            }
            Token::RParen | Token::Comma if list == Some(depth) => {
                if computing {
                    out.push(TokenWithSpan { token: Token::RParen, span });
                    computing = false;
                }
                if matches!(t.token, Token::RParen) {
                    list = None;
                    depth -= 1;
                } else {
                    column_start = true;
                    out.push(t.clone());
                    i += 1;
                    continue;
                }
            }
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(_) if column_start && list == Some(depth) => {
                column_start = false;
                let next = tokens[i + 1..].iter().position(significant).map(|p| i + 1 + p);
                if let Some(n) = next.filter(|&n| word(&tokens[n], Keyword::AS)) {
                    out.push(t.clone());
                    out.push(TokenWithSpan { token: Token::Whitespace(sqlparser::tokenizer::Whitespace::Space), span });
                    out.push(TokenWithSpan { token: Token::make_word(COMPUTED, None), span });
                    out.push(TokenWithSpan { token: Token::Whitespace(sqlparser::tokenizer::Whitespace::Space), span });
                    out.push(tokens[n].clone());
                    out.push(TokenWithSpan { token: Token::LParen, span: tokens[n].span });
                    computing = true;
                    i = n + 1;
                    continue;
                }
            }
            Token::Whitespace(_) => {}
            _ => column_start = false,
        }
        if let Token::Word(w) = &t.token {
            last_word = Some(w.keyword);
        } else if significant(t) {
            last_word = None;
        }
        out.push(t.clone());
        i += 1;
    }
    out
}

/// Whether the words before the last are `PARTITIONED BY`.
fn partitioned_before(out: &[TokenWithSpan]) -> bool {
    let words: Vec<&str> = out
        .iter()
        .rev()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .take(2)
        .filter_map(|t| match &t.token {
            Token::Word(w) => Some(w.value.as_str()),
            _ => None,
        })
        .collect();
    words.len() == 2 && words[0].eq_ignore_ascii_case("BY") && words[1].eq_ignore_ascii_case("PARTITIONED")
}
