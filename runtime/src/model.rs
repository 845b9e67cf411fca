//! The library's own data model: table schemas and Flink SQL logical types,
//! and the filters a scan offers a source — as embedders, the pipeline and
//! the SQL front end build them.
//!
//! The contract (`weir:connector@0.1.0`) has no recursive types, so ARRAY,
//! MAP and ROW refer to their parts through a side table; that layout stays
//! in the bindings. Here a type holds its parts, and each supported contract
//! version converts to and from this model in a private module of
//! [`crate::bindings`] — a future contract version adds a conversion, not a
//! new public type. The model depends on nothing else of the crate; Arrow
//! schemas (`Schema::to_arrow`, `Schema::from_arrow`) come through that
//! conversion too.
//!
//! ```
//! use weir::model::{DataType, Field, Schema};
//! let schema = Schema::new(vec![
//!     Field::new("id", DataType::BigInt).not_null(),
//!     Field::new("tags", DataType::array(DataType::String)),
//! ]);
//! assert_eq!(schema.to_string(), "(id BIGINT NOT NULL, tags ARRAY<STRING>)");
//! ```

use std::fmt;

/// A Flink SQL logical type. Parameters follow Flink: CHAR / VARCHAR /
/// BINARY / VARBINARY carry a length, TIME / TIMESTAMP a fractional
/// precision 0..=9, DECIMAL a precision 1..=38 and a scale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `BOOLEAN`
    Boolean,
    /// `TINYINT`
    TinyInt,
    /// `SMALLINT`
    SmallInt,
    /// `INT`
    Int,
    /// `BIGINT`
    BigInt,
    /// `FLOAT`
    Float,
    /// `DOUBLE`
    Double,
    /// `DECIMAL(precision, scale)`
    Decimal {
        /// Total digits, 1..=38.
        precision: u8,
        /// Digits after the point, 0..=precision.
        scale: u8,
    },
    /// `CHAR(n)`
    Char(u32),
    /// `VARCHAR(n)`
    Varchar(u32),
    /// `STRING` (`VARCHAR` of the largest length)
    String,
    /// `BINARY(n)`
    Binary(u32),
    /// `VARBINARY(n)`
    Varbinary(u32),
    /// `BYTES`
    Bytes,
    /// `DATE`
    Date,
    /// `TIME(p)`
    Time(u8),
    /// `TIMESTAMP(p)`
    Timestamp(u8),
    /// `TIMESTAMP_LTZ(p)` (`TIMESTAMP(p) WITH LOCAL TIME ZONE`)
    TimestampLtz(u8),
    /// `ARRAY<element>`
    Array {
        /// The element type.
        element: Box<DataType>,
        /// Whether elements may be null.
        nullable: bool,
    },
    /// `MAP<key, value>` (keys are never null in Flink)
    Map {
        /// The key type.
        key: Box<DataType>,
        /// The value type.
        value: Box<DataType>,
        /// Whether values may be null.
        value_nullable: bool,
    },
    /// `ROW<fields…>`
    Row(Vec<Field>),
}

impl DataType {
    /// `ARRAY<element>` with nullable elements.
    pub fn array(element: DataType) -> DataType {
        DataType::Array { element: Box::new(element), nullable: true }
    }

    /// `MAP<key, value>` with nullable values.
    pub fn map(key: DataType, value: DataType) -> DataType {
        DataType::Map { key: Box::new(key), value: Box::new(value), value_nullable: true }
    }

    /// `DECIMAL(precision, scale)`.
    pub fn decimal(precision: u8, scale: u8) -> DataType {
        DataType::Decimal { precision, scale }
    }

    /// Whether this is ARRAY, MAP or ROW.
    pub fn is_nested(&self) -> bool {
        matches!(self, DataType::Array { .. } | DataType::Map { .. } | DataType::Row(_))
    }
}

/// A named, possibly nullable column of a schema or field of a ROW.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The name as written in the DDL.
    pub name: String,
    /// The logical type.
    pub data_type: DataType,
    /// False for `NOT NULL`: a null there is a data error.
    pub nullable: bool,
}

impl Field {
    /// A nullable field.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Field {
        Field { name: name.into(), data_type, nullable: true }
    }

    /// The same field, `NOT NULL`.
    pub fn not_null(mut self) -> Field {
        self.nullable = false;
        self
    }
}

/// The physical schema of a table: its columns in order, and the columns of
/// `PRIMARY KEY (…) NOT ENFORCED`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Schema {
    /// Columns in declaration order.
    pub fields: Vec<Field>,
    /// Column names of the primary key (empty if none).
    pub primary_key: Vec<String>,
}

impl Schema {
    /// A schema of `fields` without a primary key.
    pub fn new(fields: Vec<Field>) -> Schema {
        Schema { fields, primary_key: Vec::new() }
    }

    /// Index of column `name` (case-insensitive, as Flink resolves names).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The schema of the columns at `indices`, in that order (the primary
    /// key is kept only when all its columns are).
    pub fn project(&self, indices: &[usize]) -> Schema {
        let fields: Vec<Field> = indices.iter().filter_map(|&i| self.fields.get(i).cloned()).collect();
        let keeps_key = self.primary_key.iter().all(|k| fields.iter().any(|f| f.name.eq_ignore_ascii_case(k)));
        Schema { fields, primary_key: if keeps_key { self.primary_key.clone() } else { Vec::new() } }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Boolean => f.write_str("BOOLEAN"),
            DataType::TinyInt => f.write_str("TINYINT"),
            DataType::SmallInt => f.write_str("SMALLINT"),
            DataType::Int => f.write_str("INT"),
            DataType::BigInt => f.write_str("BIGINT"),
            DataType::Float => f.write_str("FLOAT"),
            DataType::Double => f.write_str("DOUBLE"),
            DataType::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            DataType::Char(n) => write!(f, "CHAR({n})"),
            DataType::Varchar(n) => write!(f, "VARCHAR({n})"),
            DataType::String => f.write_str("STRING"),
            DataType::Binary(n) => write!(f, "BINARY({n})"),
            DataType::Varbinary(n) => write!(f, "VARBINARY({n})"),
            DataType::Bytes => f.write_str("BYTES"),
            DataType::Date => f.write_str("DATE"),
            DataType::Time(p) => write!(f, "TIME({p})"),
            DataType::Timestamp(p) => write!(f, "TIMESTAMP({p})"),
            DataType::TimestampLtz(p) => write!(f, "TIMESTAMP_LTZ({p})"),
            DataType::Array { element, nullable } => {
                write!(f, "ARRAY<{element}{}>", if *nullable { "" } else { " NOT NULL" })
            }
            DataType::Map { key, value, value_nullable } => {
                write!(f, "MAP<{key}, {value}{}>", if *value_nullable { "" } else { " NOT NULL" })
            }
            DataType::Row(fields) => {
                f.write_str("ROW<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{field}")?;
                }
                f.write_str(">")
            }
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{}", self.name, self.data_type, if self.nullable { "" } else { " NOT NULL" })
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{field}")?;
        }
        if !self.primary_key.is_empty() {
            write!(f, ", PRIMARY KEY ({}) NOT ENFORCED", self.primary_key.join(", "))?;
        }
        f.write_str(")")
    }
}

/// Comparison in a pushed-down filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>` / `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `IS NULL`
    IsNull,
    /// `IS NOT NULL`
    IsNotNull,
}

/// A literal in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `NULL` (and the value of IS \[NOT\] NULL).
    Null,
    /// `TRUE` / `FALSE`.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A number with a fraction or exponent.
    Double(f64),
    /// A string.
    Text(String),
}

/// `column op value` on a table's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Index in the source's schema.
    pub column: usize,
    /// The comparison.
    pub op: CompareOp,
    /// The literal.
    pub value: Literal,
}

impl fmt::Display for Literal {
    /// As SQL writes it: `NULL`, `TRUE`, `12`, `1.5`, `'text'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Boolean(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Double(d) => write!(f, "{d:?}"),
            Literal::Text(t) => write!(f, "'{}'", t.replace('\'', "''")),
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "=",
            CompareOp::NotEq => "<>",
            CompareOp::Lt => "<",
            CompareOp::LtEq => "<=",
            CompareOp::Gt => ">",
            CompareOp::GtEq => ">=",
            CompareOp::IsNull => "IS NULL",
            CompareOp::IsNotNull => "IS NOT NULL",
        })
    }
}
