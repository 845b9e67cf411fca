//! Flink SQL data types (as `sqlparser` reads them) to the library's
//! logical types ([`weir::model::DataType`]).

use sqlparser::ast::{ArrayElemTypeDef, CharacterLength, DataType, ExactNumberInfo, StructField, TimezoneInfo};

use weir::model::{DataType as LogicalType, Field};

/// Converts `ty`.
pub fn logical_type(ty: &DataType) -> Result<LogicalType, String> {
    use LogicalType as L;
    let precision = |p: &Option<u64>, default: u64, max: u64, name: &str| -> Result<u8, String> {
        let p = p.unwrap_or(default);
        if p > max {
            return Err(format!("{name}({p}): the precision must be between 0 and {max}"));
        }
        Ok(p as u8)
    };
    let length = |l: &Option<CharacterLength>| match l {
        Some(CharacterLength::IntegerLength { length, .. }) => u32::try_from(*length).unwrap_or(u32::MAX),
        Some(CharacterLength::Max) => u32::MAX,
        None => 1,
    };
    Ok(match ty {
        DataType::Boolean | DataType::Bool => L::Boolean,
        DataType::TinyInt(_) => L::TinyInt,
        DataType::SmallInt(_) => L::SmallInt,
        DataType::Int(_) | DataType::Integer(_) => L::Int,
        DataType::BigInt(_) => L::BigInt,
        DataType::Float(_) | DataType::Real => L::Float,
        DataType::Double(_) | DataType::DoublePrecision => L::Double,
        DataType::Decimal(info) | DataType::Numeric(info) | DataType::Dec(info) => {
            let (p, s) = match info {
                ExactNumberInfo::None => (10, 0),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, u64::try_from(*s).unwrap_or(u64::MAX)),
            };
            if !(1..=38).contains(&p) || s > p {
                return Err(format!("DECIMAL({p}, {s}): precision must be 1 to 38 and scale 0 to the precision"));
            }
            L::Decimal { precision: p as u8, scale: s as u8 }
        }
        DataType::Char(l) | DataType::Character(l) => L::Char(length(l)),
        DataType::Varchar(l) | DataType::CharacterVarying(l) => L::Varchar(length(l)),
        DataType::String(_) | DataType::Text => L::String,
        DataType::Binary(l) => L::Binary(l.map_or(1, |l| u32::try_from(l).unwrap_or(u32::MAX))),
        DataType::Varbinary(_) | DataType::Bytes(_) | DataType::Bytea => L::Bytes,
        DataType::Date => L::Date,
        DataType::Time(p, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => L::Time(precision(p, 0, 9, "TIME")?),
        DataType::Timestamp(p, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => {
            L::Timestamp(precision(p, 6, 9, "TIMESTAMP")?)
        }
        // `TIMESTAMP(p) WITH LOCAL TIME ZONE` (see the dialect's token pass).
        DataType::Timestamp(p, TimezoneInfo::WithTimeZone) => L::TimestampLtz(precision(p, 6, 9, "TIMESTAMP_LTZ")?),
        DataType::Custom(name, args) if name.to_string().eq_ignore_ascii_case("TIMESTAMP_LTZ") => {
            let p = match args.as_slice() {
                [] => None,
                [p] => Some(p.parse::<u64>().map_err(|_| format!("TIMESTAMP_LTZ({p}): not a precision"))?),
                _ => return Err("TIMESTAMP_LTZ takes one precision".to_owned()),
            };
            L::TimestampLtz(precision(&p, 6, 9, "TIMESTAMP_LTZ")?)
        }
        DataType::Custom(name, args) if name.to_string().eq_ignore_ascii_case("VARBINARY") && args.len() <= 1 => {
            L::Bytes
        }
        DataType::Array(ArrayElemTypeDef::AngleBracket(element) | ArrayElemTypeDef::SquareBracket(element, _)) => {
            L::array(logical_type(element)?)
        }
        DataType::Map(key, value) => L::map(logical_type(key)?, logical_type(value)?),
        DataType::Struct(fields, _) => L::Row(
            fields
                .iter()
                .map(|StructField { field_name, field_type, .. }| {
                    let name = field_name.as_ref().map(|n| n.value.clone()).ok_or("ROW fields need names")?;
                    Ok(Field::new(name, logical_type(field_type)?))
                })
                .collect::<Result<Vec<_>, String>>()?,
        ),
        other => {
            return Err(format!(
                "type {other} is not supported; use Flink's types (INT, STRING, DECIMAL(p, s), TIMESTAMP(p), ARRAY<…>, MAP<…>, ROW<…>, …)"
            ));
        }
    })
}

/// Whether a value of `from` fits `to` without change — the implicit casts
/// an `INSERT` may do: integer widening, FLOAT to DOUBLE, integers to
/// DOUBLE (BIGINT to DOUBLE may round beyond 2^53, as in Flink).
pub fn widens(from: &LogicalType, to: &LogicalType) -> bool {
    use LogicalType as L;
    let rank = |t: &LogicalType| match t {
        L::TinyInt => Some(1),
        L::SmallInt => Some(2),
        L::Int => Some(3),
        L::BigInt => Some(4),
        _ => None,
    };
    match (from, to) {
        (L::Float, L::Double) => true,
        (f, L::Double) => rank(f).is_some(),
        (f, t) => matches!((rank(f), rank(t)), (Some(a), Some(b)) if a < b),
    }
}
