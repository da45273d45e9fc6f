//! Statements over many rows whose SQL text is the same whatever the row
//! count. Both engines cache prepared statements by their text, and Postgres
//! parses and plans each new text: `IN ($1, …, $n)` and multi-row `VALUES`
//! would prepare a fresh statement for every batch size and thrash the
//! cache on the hot paths. Here a list travels as one array parameter, and
//! rows as one JSON parameter that the database unpacks itself.

use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

/// The SQL type a JSON field is cast to when rows are unpacked.
#[derive(Clone, Copy, Debug)]
pub enum SqlType {
    Text,
    SmallInt,
    Integer,
    BigInt,
    Boolean,
}

impl SqlType {
    fn name(self) -> &'static str {
        match self {
            SqlType::Text => "TEXT",
            SqlType::SmallInt => "SMALLINT",
            SqlType::Integer => "INTEGER",
            SqlType::BigInt => "BIGINT",
            SqlType::Boolean => "BOOLEAN",
        }
    }
}

/// `column IN (values)` for any number of values, as one SQL text.
/// `column` is an unqualified column name of the statement's table.
pub fn is_in<I, S>(backend: DatabaseBackend, column: &str, values: I) -> Expr
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let values: Vec<String> = values.into_iter().map(Into::into).collect();
    match backend {
        DatabaseBackend::Postgres => {
            Expr::cust_with_values(format!("\"{column}\" = ANY($1)"), [Value::from(values)])
        }
        _ => Expr::cust_with_values(
            // SQLite numbers `?` placeholders; a literal `$1` would be one
            // named parameter shared by every list of the statement.
            format!("\"{column}\" IN (SELECT value FROM json_each(?))"),
            [Value::from(
                serde_json::to_string(&values).expect("a list of strings serialises"),
            )],
        ),
    }
}

/// A derived table of `rows` (a JSON array of objects) with the given
/// columns, for `INSERT … SELECT` and `UPDATE … FROM`; its one parameter
/// is `$1`.
fn rows_source(backend: DatabaseBackend, columns: &[(&str, SqlType)]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .map(|(name, ty)| format!("CAST(value ->> '{name}' AS {}) AS \"{name}\"", ty.name()))
        .collect();
    let unpack = match backend {
        DatabaseBackend::Postgres => "json_array_elements(CAST($1 AS json))",
        _ => "json_each($1)",
    };
    format!("SELECT {} FROM {unpack}", fields.join(", "))
}

/// Inserts `rows`, objects keyed by column name (a missing key or a JSON
/// null stores NULL), with one statement.
pub async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[(&str, SqlType)],
    rows: &[serde_json::Value],
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let names: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) {}",
        names.join(", "),
        rows_source(backend, columns)
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [Value::from(json_text(rows))],
    ))
    .await?;
    Ok(())
}

/// Updates rows of `table` matched on `key`, setting each of `columns` from
/// the corresponding field of `rows`, with one statement.
pub async fn update_rows<C: ConnectionTrait>(
    db: &C,
    table: &str,
    key: (&str, SqlType),
    columns: &[(&str, SqlType)],
    rows: &[serde_json::Value],
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let mut all = vec![key];
    all.extend_from_slice(columns);
    let assignments: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\" = r.\"{name}\""))
        .collect();
    let sql = format!(
        "UPDATE \"{table}\" SET {} FROM ({}) AS r WHERE \"{table}\".\"{key}\" = r.\"{key}\"",
        assignments.join(", "),
        rows_source(backend, &all),
        key = key.0,
    );
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(json_text(rows))],
        ))
        .await?;
    Ok(result.rows_affected())
}

fn json_text(rows: &[serde_json::Value]) -> String {
    serde_json::to_string(rows).expect("JSON values serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_for_any_row_count() {
        let columns = [("id", SqlType::Text), ("n", SqlType::BigInt)];
        let sql = rows_source(DatabaseBackend::Postgres, &columns);
        assert_eq!(
            sql,
            "SELECT CAST(value ->> 'id' AS TEXT) AS \"id\", CAST(value ->> 'n' AS BIGINT) AS \"n\" \
             FROM json_array_elements(CAST($1 AS json))"
        );
        assert!(rows_source(DatabaseBackend::Sqlite, &columns).ends_with("FROM json_each($1)"));
    }
}
