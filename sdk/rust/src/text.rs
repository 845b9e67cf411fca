//! Scalar values as text, the way Flink's text formats read and write
//! them: the layouts of [`weir_text`] (re-exported here), plus
//! [`push_text`] / [`write_text`] to move values between text and batches.

pub use weir_text::*;

use crate::batch::{ColumnBuilder, ValueRef};
use crate::bindings::weir::connector::types::LogicalType;

/// [`push_text`] with the leniencies Flink's csv and json readers have
/// (`CsvToRowDataConverters`, `JsonToRowDataConverters`): a BOOLEAN is
/// true only for "true" (any case) and false otherwise
/// (`Boolean.parseBoolean`); a TIME or TIMESTAMP with more fractional digits
/// than the column's precision is cut to it.
pub fn push_text_as_flink(
    column: &mut ColumnBuilder,
    ty: &LogicalType,
    text: &str,
    style: &TextStyle,
) -> Result<(), String> {
    use LogicalType as T;
    if matches!(ty, T::Boolean) {
        return column.push_bool(text.trim().eq_ignore_ascii_case("true")).map_err(|e| e.message());
    }
    match (push_text(column, ty, text, style), ty) {
        (Err(e), T::Time(p) | T::Timestamp(p) | T::TimestampLtz(p)) if e.contains("fractional digits") => {
            push_text(column, ty, &truncate_fraction(text.trim(), *p), style)
        }
        (r, _) => r,
    }
}

/// `s` with the digits after its seconds' point cut to `precision` (what
/// follows the digits, such as a `Z`, kept).
pub fn truncate_fraction(s: &str, precision: u8) -> String {
    let Some(point) = s.rfind('.') else { return s.to_owned() };
    let digits = s[point + 1..].bytes().take_while(u8::is_ascii_digit).count();
    let keep = digits.min(usize::from(precision));
    let head = if keep == 0 { &s[..point] } else { &s[..point + 1 + keep] };
    format!("{head}{}", &s[point + 1 + digits..])
}

/// Parses `text` as a value of `ty` and appends it to `column`. The text is
/// trimmed first, as Flink does, except for strings.
pub fn push_text(column: &mut ColumnBuilder, ty: &LogicalType, text: &str, style: &TextStyle) -> Result<(), String> {
    use LogicalType as T;
    let t = trimmed(text);
    let pushed = match ty {
        T::Char(_) | T::Varchar(_) | T::String => column.push_str(text),
        T::Boolean => column.push_bool(parse_bool(t)?),
        T::Tinyint => column.push_i8(parse_int(t, "TINYINT")?),
        T::Smallint => column.push_i16(parse_int(t, "SMALLINT")?),
        T::Int => column.push_i32(parse_int(t, "INT")?),
        T::Bigint => column.push_i64(parse_int(t, "BIGINT")?),
        T::Float => column.push_f32(parse_float(t, "FLOAT")?),
        T::Double => column.push_f64(parse_float(t, "DOUBLE")?),
        T::Decimal(d) => column.push_decimal(parse_decimal(t, d.precision, d.scale)?),
        T::Binary(_) | T::Varbinary(_) | T::Bytes => column.push_bytes(&parse_base64(t)?),
        T::Date => column.push_i32(parse_date(t)?),
        T::Time(p) => {
            let v = parse_time(t, *p)?;
            if *p <= 3 { column.push_i32(v as i32) } else { column.push_i64(v) }
        }
        T::Timestamp(p) => column.push_i64(parse_timestamp(t, *p, style.timestamp, false)?),
        T::TimestampLtz(p) => column.push_i64(parse_timestamp(t, *p, style.timestamp, true)?),
        T::Array(_) | T::Map(_) | T::Row(_) => return Err("nested types have no text form in this format".into()),
    };
    pushed.map_err(|e| e.message())
}

/// `text.trim()`, without the call when both ends are ASCII and not
/// whitespace (the usual value; Unicode whitespace at an end would be a
/// non-ASCII byte there).
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Writes `value` of type `ty` as text. `Null` writes nothing.
pub fn write_text(out: &mut String, ty: &LogicalType, value: ValueRef<'_>, style: &TextStyle) -> Result<(), String> {
    use LogicalType as T;
    match (ty, value) {
        (_, ValueRef::Null) => {}
        (_, ValueRef::Str(s)) => out.push_str(s),
        (_, ValueRef::Bool(v)) => out.push_str(if v { "true" } else { "false" }),
        (_, ValueRef::I8(v)) => write_int(out, v),
        (_, ValueRef::I16(v)) => write_int(out, v),
        (T::Date, ValueRef::I32(v)) => write_date(out, v),
        (T::Time(p), ValueRef::I32(v)) => write_time(out, i64::from(v), *p)?,
        (T::Time(p), ValueRef::I64(v)) => write_time(out, v, *p)?,
        (T::Timestamp(p), ValueRef::I64(v)) => write_timestamp(out, v, *p, style.timestamp, false),
        (T::TimestampLtz(p), ValueRef::I64(v)) => write_timestamp(out, v, *p, style.timestamp, true),
        (_, ValueRef::I32(v)) => write_int(out, v),
        (_, ValueRef::I64(v)) => write_int(out, v),
        (_, ValueRef::F32(v)) => write_f32(out, v),
        (_, ValueRef::F64(v)) => write_f64(out, v),
        (T::Decimal(d), ValueRef::Decimal(v)) => write_decimal(out, v, d.scale, style.decimal_scientific),
        (_, ValueRef::Bytes(b)) => write_base64(out, b),
        (_, ValueRef::Decimal(_)) => return Err("a DECIMAL value in a column that is not DECIMAL".into()),
        (_, ValueRef::Nested) => return Err("nested types have no text form in this format".into()),
    }
    Ok(())
}

/// The SQL name of `ty` for messages: `INT`, `DECIMAL(5, 2)`,
/// `TIMESTAMP_LTZ(3)`, `ARRAY`…
pub fn type_name(ty: &LogicalType) -> String {
    use LogicalType as T;
    match ty {
        T::Boolean => "BOOLEAN".into(),
        T::Tinyint => "TINYINT".into(),
        T::Smallint => "SMALLINT".into(),
        T::Int => "INT".into(),
        T::Bigint => "BIGINT".into(),
        T::Float => "FLOAT".into(),
        T::Double => "DOUBLE".into(),
        T::Decimal(d) => format!("DECIMAL({}, {})", d.precision, d.scale),
        T::Char(n) => format!("CHAR({n})"),
        T::Varchar(n) => format!("VARCHAR({n})"),
        T::String => "STRING".into(),
        T::Binary(n) => format!("BINARY({n})"),
        T::Varbinary(n) => format!("VARBINARY({n})"),
        T::Bytes => "BYTES".into(),
        T::Date => "DATE".into(),
        T::Time(p) => format!("TIME({p})"),
        T::Timestamp(p) => format!("TIMESTAMP({p})"),
        T::TimestampLtz(p) => format!("TIMESTAMP_LTZ({p})"),
        T::Array(_) => "ARRAY".into(),
        T::Map(_) => "MAP".into(),
        T::Row(_) => "ROW".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimmed_is_str_trim() {
        for text in ["", "5", " 5", "5 ", "\t-1.5\n", "\u{a0}7\u{3000}", "a b", "é", " é ", "x\u{a0}"] {
            assert_eq!(super::trimmed(text), text.trim(), "{text:?}");
        }
    }
}
