//! A small rusqlite-shaped API over one PostgreSQL connection, so that the queries of this
//! backend read like the SQLite ledger's: SQL with `?N` (or bare `?`) placeholders, statements
//! prepared once per connection (`prepare_cached`), `params!`, rows read into the model's own
//! integer types (`u8`, `u16`, `bool`...) from the `BIGINT` columns that store them.
//!
//! Values cross as a [`Value`] that takes the type PostgreSQL inferred for its placeholder, so a
//! Rust integer may fill a `BIGINT`, `INTEGER` or `TEXT` parameter alike.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};

use crate::ledger::{LedgerError, Result};

/// A value crossing to or from PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// SQL NULL.
    Null,
    /// Any integer or boolean.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BYTEA`).
    Blob(Vec<u8>),
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (Value::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::Int(v), _) => v.to_string().to_sql(ty, out),
            (Value::Text(s), &Type::INT8) => s.parse::<i64>()?.to_sql(ty, out),
            (Value::Text(s), _) => s.to_sql(ty, out),
            (Value::Blob(b), _) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(Vec::<u8>::from_sql(ty, raw)?),
            // `SUM` of integers.
            Type::NUMERIC => Value::Int(numeric_integer(raw)?),
            _ => Value::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::BYTEA
                | Type::NUMERIC
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
        )
    }
}

/// A `NUMERIC` holding an integer, from PostgreSQL's binary form: digit count, weight, sign and
/// display scale (16 bits each), then base-10000 digits, the first of weight `weight`.
fn numeric_integer(raw: &[u8]) -> Result<i64, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        raw.get(2 * i..2 * i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a truncated NUMERIC".into())
    };
    let (ndigits, weight, sign) = (word(0)?, word(1)?, word(2)? as u16);
    if sign == 0xC000 {
        return Err("NUMERIC NaN".into());
    }
    let mut value: i64 = 0;
    for i in 0..ndigits.max(0) as usize {
        let power = i32::from(weight) - i as i32;
        let digit = i64::from(word(4 + i)?);
        if power < 0 {
            if digit != 0 {
                return Err("a NUMERIC with a fraction where an integer was expected".into());
            }
            continue;
        }
        let scaled = 10_000_i64
            .checked_pow(power as u32)
            .and_then(|p| p.checked_mul(digit))
            .ok_or("a NUMERIC too large for 64 bits")?;
        value = value
            .checked_add(scaled)
            .ok_or("a NUMERIC too large for 64 bits")?;
    }
    Ok(if sign == 0x4000 { -value } else { value })
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::Null, Value::Int)
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

/// What can fill a placeholder.
pub(super) trait ToValue {
    /// The value sent.
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, u8, u16, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(*self as i64)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// What can be read from a column.
pub(super) trait FromValue: Sized {
    /// The Rust value of a column's value; none when it does not fit.
    fn from_value(v: Value) -> Option<Self>;
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u8, u16, u32, u64, usize);

impl FromValue for bool {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(i != 0),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// The values of one statement's placeholders.
pub(super) trait Params {
    /// The values, in placeholder order.
    fn values(self) -> Vec<Value>;
}

impl Params for &[&dyn ToValue] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

/// Values gathered while a query was built.
pub(super) struct ParamsFromIter(Vec<Value>);

impl Params for &ParamsFromIter {
    fn values(self) -> Vec<Value> {
        self.0.clone()
    }
}

impl Params for ParamsFromIter {
    fn values(self) -> Vec<Value> {
        self.0
    }
}

/// The values of a list built at run time.
pub(super) fn params_from_iter<T: ToValue>(values: impl IntoIterator<Item = T>) -> ParamsFromIter {
    ParamsFromIter(values.into_iter().map(|v| v.to_value()).collect())
}

/// The placeholders' values of one statement, as for rusqlite's macro of the same name.
macro_rules! params {
    () => { &[] as &[&dyn $crate::ledger::postgres::compat::ToValue] };
    ($($v:expr),+ $(,)?) => {
        &[$(&$v as &dyn $crate::ledger::postgres::compat::ToValue),+]
            as &[&dyn $crate::ledger::postgres::compat::ToValue]
    };
}
pub(super) use params;

/// Why a query gave no value.
#[derive(Debug)]
pub(super) enum QueryError {
    /// A query for one row found none.
    NoRows,
    /// Anything else.
    Ledger(LedgerError),
}

impl From<QueryError> for LedgerError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::NoRows => LedgerError::Database("the query returned no rows".into()),
            QueryError::Ledger(e) => e,
        }
    }
}

impl From<LedgerError> for QueryError {
    fn from(e: LedgerError) -> Self {
        QueryError::Ledger(e)
    }
}

/// A query for one row answered "none" when it found none.
pub(super) trait OptionalExtension<T> {
    /// The row, or none.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T, QueryError> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(QueryError::NoRows) => Ok(None),
            Err(QueryError::Ledger(e)) => Err(e),
        }
    }
}

/// A column's position.
pub(super) trait ColumnIndex {
    /// The position.
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of an answer (the lifetime is rusqlite's, whose rows borrow their statement).
pub(super) struct Row<'a> {
    row: postgres::Row,
    _statement: PhantomData<&'a ()>,
}

impl Row<'_> {
    fn new(row: postgres::Row) -> Self {
        Row {
            row,
            _statement: PhantomData,
        }
    }

    /// Column `idx`, converted to `T`.
    pub(super) fn get<I: ColumnIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let idx = idx.index();
        let v: Value = self.row.try_get(idx).map_err(|e| {
            let ty = self
                .row
                .columns()
                .get(idx)
                .map(|c| c.type_().name().to_string());
            let cause = e.source().map(|c| c.to_string()).unwrap_or_default();
            LedgerError::Database(format!("column {idx} ({ty:?}): {e}: {cause}"))
        })?;
        let shown = format!("{v:?}");
        T::from_value(v).ok_or_else(|| {
            LedgerError::Database(format!(
                "column {idx}: unexpected value {shown} for {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// A client that may be dropped anywhere. A `postgres` client closes by blocking on a runtime of
/// its own, which a thread driving Tokio tasks must not do: dropped on such a thread (the service
/// dropped at shutdown), it is closed on a thread of its own.
pub(super) struct OwnedClient(ManuallyDrop<Client>);

impl OwnedClient {
    /// Wraps a connected client.
    pub(super) fn new(client: Client) -> Self {
        OwnedClient(ManuallyDrop::new(client))
    }
}

impl Deref for OwnedClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.0
    }
}

impl DerefMut for OwnedClient {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.0
    }
}

impl Drop for OwnedClient {
    fn drop(&mut self) {
        // SAFETY: the client is taken once, here, and never used again.
        let client = unsafe { ManuallyDrop::take(&mut self.0) };
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(client));
        } else {
            drop(client);
        }
    }
}

/// A pooled connection's client and the statements prepared on it, by their SQL.
pub(super) struct Session {
    pub(super) client: OwnedClient,
    statements: HashMap<String, Statement>,
}

impl Session {
    /// A session around a fresh client.
    pub(super) fn new(client: Client) -> Self {
        Session {
            client: OwnedClient::new(client),
            statements: HashMap::new(),
        }
    }
}

/// One connection taken from the pool, inside a database transaction its owner began.
pub(super) struct Connection<'s> {
    session: RefCell<&'s mut Session>,
    /// Set when PostgreSQL answered that the transaction must be retried (serialization
    /// failure or deadlock).
    retry: Cell<bool>,
    /// Whether a transaction began with [`Connection::execute_batch`] is open: one left open
    /// (by a call that panicked) is rolled back when the connection goes back to the pool.
    open: Cell<bool>,
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            let _ = self.session.get_mut().client.batch_execute("ROLLBACK");
        }
    }
}

/// Whether PostgreSQL asks for the transaction to be run again.
pub(super) fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// The SQL with `?N` and bare `?` placeholders written as PostgreSQL's `$N`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        out.push('$');
        if digits.is_empty() {
            out.push_str(&next.to_string());
            next += 1;
        } else {
            out.push_str(&digits);
        }
    }
    out
}

impl<'s> Connection<'s> {
    /// Wraps a session whose transaction is open.
    pub(super) fn new(session: &'s mut Session) -> Self {
        Connection {
            session: RefCell::new(session),
            retry: Cell::new(false),
            open: Cell::new(false),
        }
    }

    /// Whether a statement failed in a way that asks for the transaction to run again.
    pub(super) fn must_retry(&self) -> bool {
        self.retry.get()
    }

    fn error(&self, e: postgres::Error) -> LedgerError {
        if retryable(&e) {
            self.retry.set(true);
        }
        pg_error(e)
    }

    /// The statement of `sql`, prepared on this connection the first time.
    pub(super) fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_, 's>> {
        let mut session = self.session.borrow_mut();
        if let Some(st) = session.statements.get(sql) {
            return Ok(Stmt {
                conn: self,
                statement: st.clone(),
            });
        }
        let st = session
            .client
            .prepare(&numbered(sql))
            .map_err(|e| self.error(e))?;
        session.statements.insert(sql.to_string(), st.clone());
        Ok(Stmt {
            conn: self,
            statement: st,
        })
    }

    /// Runs one statement; the rows it changed.
    pub(super) fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// The one row of a query, mapped.
    pub(super) fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T, QueryError> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Runs statements without parameters (`BEGIN`, `COMMIT` and `ROLLBACK` among them).
    pub(super) fn execute_batch(&self, sql: &str) -> Result<()> {
        if sql.starts_with("BEGIN") {
            self.open.set(true);
        } else if sql == "COMMIT" || sql == "ROLLBACK" {
            self.open.set(false);
        }
        self.session
            .borrow_mut()
            .client
            .batch_execute(sql)
            .map_err(|e| self.error(e))
    }

    fn run(&self, st: &Statement, params: impl Params) -> Result<Vec<postgres::Row>> {
        let values = params.values();
        let refs: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.session
            .borrow_mut()
            .client
            .query(st, &refs)
            .map_err(|e| self.error(e))
    }

    fn run_execute(&self, st: &Statement, params: impl Params) -> Result<usize> {
        let values = params.values();
        let refs: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let n = self
            .session
            .borrow_mut()
            .client
            .execute(st, &refs)
            .map_err(|e| self.error(e))?;
        Ok(n as usize)
    }
}

/// A prepared statement of a [`Connection`].
pub(super) struct Stmt<'c, 's> {
    conn: &'c Connection<'s>,
    statement: Statement,
}

impl Stmt<'_, '_> {
    /// Runs it; the rows it changed.
    pub(super) fn execute(&mut self, params: impl Params) -> Result<usize> {
        self.conn.run_execute(&self.statement, params)
    }

    /// Its one row, mapped; [`QueryError::NoRows`] when there is none.
    pub(super) fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T, QueryError> {
        let rows = self.conn.run(&self.statement, params)?;
        match rows.into_iter().next() {
            Some(r) => Ok(f(&Row::new(r))?),
            None => Err(QueryError::NoRows),
        }
    }

    /// Its rows, to walk one by one.
    pub(super) fn query(&mut self, params: impl Params) -> Result<Rows> {
        Ok(Rows {
            rows: self.conn.run(&self.statement, params)?.into_iter(),
            current: None,
        })
    }

    /// Its rows, mapped.
    pub(super) fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl Fn(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let rows = self.conn.run(&self.statement, params)?;
        let mapped: Vec<Result<T>> = rows.into_iter().map(|r| f(&Row::new(r))).collect();
        Ok(mapped.into_iter())
    }
}

/// The rows of an answer, walked with [`Rows::next`].
pub(super) struct Rows {
    rows: std::vec::IntoIter<postgres::Row>,
    current: Option<Row<'static>>,
}

impl Rows {
    /// The next row, if any.
    pub(super) fn next(&mut self) -> Result<Option<&Row<'_>>> {
        self.current = self.rows.next().map(Row::new);
        Ok(self.current.as_ref())
    }
}

/// A PostgreSQL error as a ledger error: its message, with the server's detail (never values a
/// caller passed: PostgreSQL's messages quote no parameters).
pub(super) fn pg_error(e: postgres::Error) -> LedgerError {
    match e.as_db_error() {
        Some(db) => LedgerError::Database(format!("{} ({})", db.message(), db.code().code())),
        None => {
            // The driver's own text is the outermost error only ("error performing TLS
            // handshake"): the causes say why.
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            LedgerError::Database(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(numbered("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
        assert_eq!(numbered("a IN (?, ?, ?)"), "a IN ($1, $2, $3)");
        assert_eq!(numbered("a = '?' AND b = ?"), "a = '?' AND b = $1");
    }
}
