//! Host-side WHERE: comparisons of a column with a literal, on Arrow.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Scalar};
use arrow_schema::{DataType, TimeUnit};

use super::model::{self, CompareOp, Literal};

/// `column op literal` over an Arrow column; null where SQL gives unknown.
pub(super) fn evaluate(column: &ArrayRef, filter: &model::Filter) -> std::result::Result<BooleanArray, String> {
    use arrow_ord::cmp;
    match filter.op {
        CompareOp::IsNull => return Ok((0..column.len()).map(|i| Some(column.is_null(i))).collect()),
        CompareOp::IsNotNull => return Ok((0..column.len()).map(|i| Some(column.is_valid(i))).collect()),
        _ => {}
    }
    if filter.value == Literal::Null {
        return Ok(BooleanArray::new_null(column.len()));
    }
    let scalar = scalar(column.data_type(), &filter.value)?;
    let result = match filter.op {
        CompareOp::Eq => cmp::eq(column, &scalar),
        CompareOp::NotEq => cmp::neq(column, &scalar),
        CompareOp::Lt => cmp::lt(column, &scalar),
        CompareOp::LtEq => cmp::lt_eq(column, &scalar),
        CompareOp::Gt => cmp::gt(column, &scalar),
        CompareOp::GtEq => cmp::gt_eq(column, &scalar),
        CompareOp::IsNull | CompareOp::IsNotNull => unreachable!("handled above"),
    };
    result.map_err(|e| e.to_string())
}

/// Whether `column op value` can be evaluated: the literal fits the
/// column's type (what `weir check` and the SQL front end ask before a run,
/// with the same rules the run applies). The error reads "column 'score'
/// is INT and cannot be compared with the text 'abc'".
pub fn check_filter(column: &weir::model::Field, value: &Literal) -> std::result::Result<(), String> {
    if *value == Literal::Null {
        return Ok(());
    }
    let ty = weir::model::Schema::new(vec![column.clone()]).to_arrow()?.field(0).data_type().clone();
    scalar(&ty, value).map(|_| ()).map_err(|why| {
        let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
        format!("column '{}' is {} and cannot be compared with {value}{why}", column.name, column.data_type)
    })
}

/// The literal as a one-value array of the column's type; the error is
/// empty when the literal is of the wrong kind, else says why its text
/// does not parse.
pub(super) fn scalar(ty: &DataType, value: &Literal) -> std::result::Result<Scalar<ArrayRef>, String> {
    use arrow_array::*;
    let bad = String::new;
    let int = || match value {
        Literal::Integer(i) => Ok(*i),
        _ => Err(bad()),
    };
    let float = || match value {
        Literal::Integer(i) => Ok(*i as f64),
        Literal::Double(d) => Ok(*d),
        _ => Err(bad()),
    };
    let out_of_range = || "the value is out of the column's range".to_owned();
    let text = || match value {
        Literal::Text(t) => Ok(t.as_str()),
        _ => Err(bad()),
    };
    let array: ArrayRef = match ty {
        DataType::Boolean => match value {
            Literal::Boolean(b) => Arc::new(BooleanArray::from(vec![*b])),
            _ => return Err(bad()),
        },
        DataType::Int8 => Arc::new(Int8Array::from(vec![i8::try_from(int()?).map_err(|_| out_of_range())?])),
        DataType::Int16 => Arc::new(Int16Array::from(vec![i16::try_from(int()?).map_err(|_| out_of_range())?])),
        DataType::Int32 => Arc::new(Int32Array::from(vec![i32::try_from(int()?).map_err(|_| out_of_range())?])),
        DataType::Int64 => Arc::new(Int64Array::from(vec![int()?])),
        DataType::Float32 => Arc::new(Float32Array::from(vec![float()? as f32])),
        DataType::Float64 => Arc::new(Float64Array::from(vec![float()?])),
        DataType::Utf8 => Arc::new(StringArray::from(vec![text()?])),
        DataType::Date32 => Arc::new(Date32Array::from(vec![weir_text::parse_date(text()?)?])),
        DataType::Decimal128(p, s) => {
            let literal = match value {
                Literal::Integer(i) => i.to_string(),
                Literal::Double(d) => d.to_string(),
                Literal::Text(t) => t.clone(),
                _ => return Err(bad()),
            };
            let v = weir_text::parse_decimal(&literal, *p, *s as u8)?;
            Arc::new(Decimal128Array::from(vec![v]).with_precision_and_scale(*p, *s).map_err(|e| e.to_string())?)
        }
        DataType::Timestamp(unit, zone) => {
            let p = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            let v = weir_text::parse_timestamp(text()?, p, weir_text::TimestampStyle::Sql, zone.is_some())?;
            let a: ArrayRef = match unit {
                TimeUnit::Second => Arc::new(TimestampSecondArray::from(vec![v]).with_timezone_opt(zone.clone())),
                TimeUnit::Millisecond => {
                    Arc::new(TimestampMillisecondArray::from(vec![v]).with_timezone_opt(zone.clone()))
                }
                TimeUnit::Microsecond => {
                    Arc::new(TimestampMicrosecondArray::from(vec![v]).with_timezone_opt(zone.clone()))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(TimestampNanosecondArray::from(vec![v]).with_timezone_opt(zone.clone()))
                }
            };
            a
        }
        _ => return Err(bad()),
    };
    Ok(Scalar::new(array))
}
