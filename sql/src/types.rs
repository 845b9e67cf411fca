//! Flink SQL data types (as `sqlparser` reads them) to the contract's
//! logical types.

use sqlparser::ast::{ArrayElemTypeDef, CharacterLength, DataType, ExactNumberInfo, StructField, TimezoneInfo};

use weir::types::{DecimalType, ElementRef, Field, LogicalType, MapType, NestedType};

/// Converts `ty`, registering ARRAY / MAP / ROW parts in `nested`.
pub fn logical_type(ty: &DataType, nested: &mut Vec<NestedType>) -> Result<LogicalType, String> {
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
        DataType::TinyInt(_) => L::Tinyint,
        DataType::SmallInt(_) => L::Smallint,
        DataType::Int(_) | DataType::Integer(_) => L::Int,
        DataType::BigInt(_) => L::Bigint,
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
            L::Decimal(DecimalType { precision: p as u8, scale: s as u8 })
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
            let element = logical_type(element, nested)?;
            nested.push(NestedType::Type(element));
            L::Array(ElementRef { element: nested.len() as u32 - 1, nullable: true })
        }
        DataType::Map(key, value) => {
            let key = logical_type(key, nested)?;
            nested.push(NestedType::Type(key));
            let key = nested.len() as u32 - 1;
            let value = logical_type(value, nested)?;
            nested.push(NestedType::Type(value));
            L::Map(MapType { key, value: ElementRef { element: nested.len() as u32 - 1, nullable: true } })
        }
        DataType::Struct(fields, _) => {
            let fields = fields
                .iter()
                .map(|StructField { field_name, field_type, .. }| {
                    let name = field_name.as_ref().map(|n| n.value.clone()).ok_or("ROW fields need names")?;
                    Ok(Field { name, data_type: logical_type(field_type, nested)?, nullable: true })
                })
                .collect::<Result<Vec<_>, String>>()?;
            nested.push(NestedType::RowFields(fields));
            L::Row(nested.len() as u32 - 1)
        }
        other => {
            return Err(format!(
                "type {other} is not supported; use Flink's types (INT, STRING, DECIMAL(p, s), TIMESTAMP(p), ARRAY<…>, MAP<…>, ROW<…>, …)"
            ));
        }
    })
}

/// `ty` in Flink's SQL spelling: `INT`, `DECIMAL(10, 2)`, `ARRAY<STRING>`,
/// `MAP<STRING, INT>`, `ROW<a INT, b STRING>`.
pub fn type_text(ty: &LogicalType, nested: &[NestedType]) -> String {
    use LogicalType as L;
    let inner = |r: u32| match nested.get(r as usize) {
        Some(NestedType::Type(t)) => type_text(t, nested),
        _ => "?".to_owned(),
    };
    match ty {
        L::Boolean => "BOOLEAN".into(),
        L::Tinyint => "TINYINT".into(),
        L::Smallint => "SMALLINT".into(),
        L::Int => "INT".into(),
        L::Bigint => "BIGINT".into(),
        L::Float => "FLOAT".into(),
        L::Double => "DOUBLE".into(),
        L::Decimal(d) => format!("DECIMAL({}, {})", d.precision, d.scale),
        L::Char(n) => format!("CHAR({n})"),
        L::Varchar(n) => format!("VARCHAR({n})"),
        L::String => "STRING".into(),
        L::Binary(n) => format!("BINARY({n})"),
        L::Varbinary(n) => format!("VARBINARY({n})"),
        L::Bytes => "BYTES".into(),
        L::Date => "DATE".into(),
        L::Time(p) => format!("TIME({p})"),
        L::Timestamp(p) => format!("TIMESTAMP({p})"),
        L::TimestampLtz(p) => format!("TIMESTAMP_LTZ({p})"),
        L::Array(e) => format!("ARRAY<{}>", inner(e.element)),
        L::Map(m) => format!("MAP<{}, {}>", inner(m.key), inner(m.value.element)),
        L::Row(r) => match nested.get(*r as usize) {
            Some(NestedType::RowFields(fields)) => format!(
                "ROW<{}>",
                fields
                    .iter()
                    .map(|f| format!("{} {}", f.name, type_text(&f.data_type, nested)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "ROW<?>".into(),
        },
    }
}

/// Whether a value of `from` fits `to` without change — the implicit casts
/// an `INSERT` may do: integer widening, FLOAT to DOUBLE, integers to
/// DOUBLE (BIGINT to DOUBLE may round beyond 2^53, as in Flink).
pub fn widens(from: &LogicalType, to: &LogicalType) -> bool {
    use LogicalType as L;
    let rank = |t: &LogicalType| match t {
        L::Tinyint => Some(1),
        L::Smallint => Some(2),
        L::Int => Some(3),
        L::Bigint => Some(4),
        _ => None,
    };
    match (from, to) {
        (L::Float, L::Double) => true,
        (f, L::Double) => rank(f).is_some(),
        (f, t) => matches!((rank(f), rank(t)), (Some(a), Some(b)) if a < b),
    }
}
