//! One trip to the database for several statements. On Postgres:
//! data-modifying `WITH` clauses in front of a main statement, which runs
//! and commits as one, so a hot path that would take BEGIN, n statements
//! and COMMIT takes one round trip. On SQLite: statements in sequence in
//! one text, which the driver runs one after the other in a single turn of
//! its worker thread (each turn is two thread wake-ups, which is what a
//! small group's statements cost there, far more than SQLite's own work).

use sea_orm::{DatabaseBackend, Statement};

/// `first; second; ...` as one SQLite statement text, the values in order.
/// SQLite's `?` placeholders are positional and the driver binds them
/// across the statements in turn, so nothing is renumbered. Run it inside a
/// transaction: a failing part leaves the earlier parts done.
pub fn in_sequence(parts: Vec<Statement>) -> Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for part in parts {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&part.sql);
        values.extend(part.values.map(|v| v.0).unwrap_or_default());
    }
    Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)
}

/// `WITH name AS (clause), ... main`, with each part's `$n` placeholders
/// renumbered to follow the parts before it and the values concatenated.
/// Every part must have been built for Postgres.
pub fn with_clauses(clauses: Vec<(&str, Statement)>, main: Statement) -> Statement {
    let mut sql = String::from("WITH ");
    let mut values = Vec::new();
    for (index, (name, clause)) in clauses.into_iter().enumerate() {
        if index > 0 {
            sql.push_str(", ");
        }
        sql.push_str(name);
        sql.push_str(" AS (");
        sql.push_str(&shift_placeholders(&clause.sql, values.len()));
        sql.push(')');
        values.extend(clause.values.map(|v| v.0).unwrap_or_default());
    }
    sql.push(' ');
    sql.push_str(&shift_placeholders(&main.sql, values.len()));
    values.extend(main.values.map(|v| v.0).unwrap_or_default());
    Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
}

/// Renumbers a Postgres statement's `$n` placeholders to `$n + offset`.
/// sea-query binds every value, never inlines one, so a `$` followed by
/// digits is always a placeholder.
fn shift_placeholders(sql: &str, offset: usize) -> String {
    let mut shifted = String::with_capacity(sql.len() + sql.len() / 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        shifted.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => shifted.push_str(&(n + offset).to_string()),
            Err(_) => shifted.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    shifted.push_str(rest);
    shifted
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Value;

    #[test]
    fn placeholders_shift_past_the_parts_before() {
        assert_eq!(
            shift_placeholders(
                r#"INSERT INTO "d" ("a", "b") VALUES ($1, $2), ($3, $10)"#,
                7
            ),
            r#"INSERT INTO "d" ("a", "b") VALUES ($8, $9), ($10, $17)"#
        );
        assert_eq!(shift_placeholders("SELECT 1", 3), "SELECT 1");
        assert_eq!(shift_placeholders("$", 3), "$");
    }

    #[test]
    fn clauses_come_first_and_values_follow_in_order() {
        let part = |sql: &str, values: Vec<Value>| {
            Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
        };
        let combined = with_clauses(
            vec![
                (
                    "a",
                    part("INSERT INTO a VALUES ($1, $2)", vec![1.into(), 2.into()]),
                ),
                ("b", part("UPDATE b SET x = $1", vec![3.into()])),
            ],
            part("UPDATE c SET y = $1 WHERE z = $2", vec![4.into(), 5.into()]),
        );
        assert_eq!(
            combined.sql,
            "WITH a AS (INSERT INTO a VALUES ($1, $2)), b AS (UPDATE b SET x = $3) \
             UPDATE c SET y = $4 WHERE z = $5"
        );
        let values: Vec<Value> = combined.values.unwrap().0;
        assert_eq!(
            values,
            vec![1.into(), 2.into(), 3.into(), 4.into(), 5.into()]
        );
    }

    #[test]
    fn sqlite_statements_follow_each_other_with_their_values_in_order() {
        let part = |sql: &str, values: Vec<Value>| {
            Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)
        };
        let combined = in_sequence(vec![
            part("INSERT INTO a VALUES (?, ?)", vec![1.into(), 2.into()]),
            part("DELETE FROM b", vec![]),
            part("UPDATE c SET y = ?", vec![3.into()]),
        ]);
        assert_eq!(
            combined.sql,
            "INSERT INTO a VALUES (?, ?);\nDELETE FROM b;\nUPDATE c SET y = ?"
        );
        let values: Vec<Value> = combined.values.unwrap().0;
        assert_eq!(values, vec![1.into(), 2.into(), 3.into()]);
    }
}
