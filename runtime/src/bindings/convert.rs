//! The library's model ([`crate::model`]) to and from `weir:connector@0.1.0`.
//!
//! The contract keeps ARRAY / MAP / ROW parts in a side table
//! (`schema.nested`) because WIT has no recursive types; the model nests
//! them. Converting to the contract is total; converting from it checks
//! every reference and the nesting depth (a schema from elsewhere is
//! untrusted input).

use super::v0_1_0::weir::connector::types as wit;
use crate::model::{DataType, Field, Schema};

impl Schema {
    /// The contract's form (for code driving an [`Instance`](crate::instance::Instance)
    /// directly: `weir verify`, the contract's tests).
    #[doc(hidden)]
    pub fn to_contract(&self) -> crate::types::Schema {
        schema(self)
    }

    /// The model's form of a contract schema (references checked).
    #[doc(hidden)]
    pub fn from_contract(schema: &crate::types::Schema) -> Result<Schema, String> {
        schema_from_contract(schema)
    }
}

/// Depth limit of nested types (the same as Arrow conversion's).
const MAX_DEPTH: usize = 32;

/// The contract's form of `schema`.
pub(crate) fn schema(schema: &Schema) -> wit::Schema {
    let mut nested = Vec::new();
    let fields = schema.fields.iter().map(|f| field(f, &mut nested)).collect();
    wit::Schema { fields, nested, primary_key: schema.primary_key.clone() }
}

fn field(f: &Field, nested: &mut Vec<wit::NestedType>) -> wit::Field {
    wit::Field { name: f.name.clone(), data_type: logical_type(&f.data_type, nested), nullable: f.nullable }
}

/// Registers `ty` in `nested` and returns its reference.
fn reference(ty: &DataType, nested: &mut Vec<wit::NestedType>) -> u32 {
    let ty = logical_type(ty, nested);
    nested.push(wit::NestedType::Type(ty));
    nested.len() as u32 - 1
}

fn logical_type(ty: &DataType, nested: &mut Vec<wit::NestedType>) -> wit::LogicalType {
    use wit::LogicalType as L;
    match ty {
        DataType::Boolean => L::Boolean,
        DataType::TinyInt => L::Tinyint,
        DataType::SmallInt => L::Smallint,
        DataType::Int => L::Int,
        DataType::BigInt => L::Bigint,
        DataType::Float => L::Float,
        DataType::Double => L::Double,
        DataType::Decimal { precision, scale } => L::Decimal(wit::DecimalType { precision: *precision, scale: *scale }),
        DataType::Char(n) => L::Char(*n),
        DataType::Varchar(n) => L::Varchar(*n),
        DataType::String => L::String,
        DataType::Binary(n) => L::Binary(*n),
        DataType::Varbinary(n) => L::Varbinary(*n),
        DataType::Bytes => L::Bytes,
        DataType::Date => L::Date,
        DataType::Time(p) => L::Time(*p),
        DataType::Timestamp(p) => L::Timestamp(*p),
        DataType::TimestampLtz(p) => L::TimestampLtz(*p),
        DataType::Array { element, nullable } => {
            L::Array(wit::ElementRef { element: reference(element, nested), nullable: *nullable })
        }
        DataType::Map { key, value, value_nullable } => {
            let key = reference(key, nested);
            let value = wit::ElementRef { element: reference(value, nested), nullable: *value_nullable };
            L::Map(wit::MapType { key, value })
        }
        DataType::Row(fields) => {
            let fields = fields.iter().map(|f| field(f, nested)).collect();
            nested.push(wit::NestedType::RowFields(fields));
            L::Row(nested.len() as u32 - 1)
        }
    }
}

/// The model's form of a contract schema: every reference checked, nesting
/// bounded.
pub(crate) fn schema_from_contract(schema: &wit::Schema) -> Result<Schema, String> {
    let fields = schema
        .fields
        .iter()
        .map(|f| field_from(f, &schema.nested, 0).map_err(|e| format!("column '{}': {e}", f.name)))
        .collect::<Result<_, _>>()?;
    Ok(Schema { fields, primary_key: schema.primary_key.clone() })
}

fn field_from(f: &wit::Field, nested: &[wit::NestedType], depth: usize) -> Result<Field, String> {
    Ok(Field { name: f.name.clone(), data_type: type_from(&f.data_type, nested, depth)?, nullable: f.nullable })
}

fn type_from(ty: &wit::LogicalType, nested: &[wit::NestedType], depth: usize) -> Result<DataType, String> {
    use wit::LogicalType as L;
    if depth > MAX_DEPTH {
        return Err(format!("types nest deeper than {MAX_DEPTH} levels"));
    }
    let referenced = |r: u32| match nested.get(r as usize) {
        Some(wit::NestedType::Type(t)) => type_from(t, nested, depth + 1).map(Box::new),
        _ => Err(format!("type reference {r} is not a type in the schema's nested table")),
    };
    Ok(match ty {
        L::Boolean => DataType::Boolean,
        L::Tinyint => DataType::TinyInt,
        L::Smallint => DataType::SmallInt,
        L::Int => DataType::Int,
        L::Bigint => DataType::BigInt,
        L::Float => DataType::Float,
        L::Double => DataType::Double,
        L::Decimal(d) => DataType::Decimal { precision: d.precision, scale: d.scale },
        L::Char(n) => DataType::Char(*n),
        L::Varchar(n) => DataType::Varchar(*n),
        L::String => DataType::String,
        L::Binary(n) => DataType::Binary(*n),
        L::Varbinary(n) => DataType::Varbinary(*n),
        L::Bytes => DataType::Bytes,
        L::Date => DataType::Date,
        L::Time(p) => DataType::Time(*p),
        L::Timestamp(p) => DataType::Timestamp(*p),
        L::TimestampLtz(p) => DataType::TimestampLtz(*p),
        L::Array(e) => DataType::Array { element: referenced(e.element)?, nullable: e.nullable },
        L::Map(m) => DataType::Map {
            key: referenced(m.key)?,
            value: referenced(m.value.element)?,
            value_nullable: m.value.nullable,
        },
        L::Row(r) => match nested.get(*r as usize) {
            Some(wit::NestedType::RowFields(fields)) => {
                DataType::Row(fields.iter().map(|f| field_from(f, nested, depth + 1)).collect::<Result<_, _>>()?)
            }
            _ => return Err(format!("row reference {r} is not a ROW in the schema's nested table")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::convert;
    use crate::model::DataType;

    fn nested_schema() -> Schema {
        Schema {
            fields: vec![
                Field::new("id", DataType::BigInt).not_null(),
                Field::new("price", DataType::decimal(10, 2)),
                Field::new("tags", DataType::Array { element: Box::new(DataType::String), nullable: false }),
                Field::new("attrs", DataType::map(DataType::String, DataType::array(DataType::Int))),
                Field::new(
                    "who",
                    DataType::Row(vec![
                        Field::new("name", DataType::Varchar(20)),
                        Field::new("at", DataType::Row(vec![Field::new("t", DataType::TimestampLtz(3))])),
                    ]),
                ),
            ],
            primary_key: vec!["id".to_owned()],
        }
    }

    #[test]
    fn contract_round_trip_keeps_every_type() {
        let schema = nested_schema();
        let contract = convert::schema(&schema);
        assert!(!contract.nested.is_empty(), "nested parts go to the side table");
        assert_eq!(convert::schema_from_contract(&contract).unwrap(), schema);
    }

    #[test]
    fn arrow_round_trip_keeps_every_type() {
        let mut schema = nested_schema();
        schema.primary_key.clear();
        // Arrow has no lengths: CHAR/VARCHAR come back as STRING.
        let DataType::Row(fields) = &mut schema.fields[4].data_type else { unreachable!() };
        fields[0].data_type = DataType::String;
        let arrow = schema.to_arrow().unwrap();
        assert_eq!(Schema::from_arrow(&arrow).unwrap(), schema);
    }

    #[test]
    fn bad_contract_references_are_errors_not_panics() {
        use crate::types as wit;
        let contract = wit::Schema {
            fields: vec![wit::Field { name: "a".into(), data_type: wit::LogicalType::Row(7), nullable: true }],
            nested: Vec::new(),
            primary_key: Vec::new(),
        };
        assert!(convert::schema_from_contract(&contract).unwrap_err().contains("reference 7"));
        // A cycle (a row whose field refers to itself) ends at the depth limit.
        let cyclic = wit::Schema {
            fields: vec![wit::Field { name: "a".into(), data_type: wit::LogicalType::Row(0), nullable: true }],
            nested: vec![wit::NestedType::RowFields(vec![wit::Field {
                name: "b".into(),
                data_type: wit::LogicalType::Row(0),
                nullable: true,
            }])],
            primary_key: Vec::new(),
        };
        assert!(convert::schema_from_contract(&cyclic).unwrap_err().contains("deeper"));
    }

    #[test]
    fn display_reads_like_flink_ddl() {
        assert_eq!(
            nested_schema().to_string(),
            "(id BIGINT NOT NULL, price DECIMAL(10, 2), tags ARRAY<STRING NOT NULL>, \
             attrs MAP<STRING, ARRAY<INT>>, who ROW<name VARCHAR(20), at ROW<t TIMESTAMP_LTZ(3)>>, \
             PRIMARY KEY (id) NOT ENFORCED)"
        );
    }
}
