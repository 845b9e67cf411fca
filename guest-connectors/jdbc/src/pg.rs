//! A PostgreSQL client over `std::net` (wasi:sockets inside the
//! component): startup, password authentication (SCRAM-SHA-256, md5,
//! cleartext), simple queries with text results. Server errors become
//! messages with PostgreSQL's own text and code; the password never
//! appears in one.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::{backend::Message, frontend};
use weir_sdk::{Error, Result};

/// One row of text values (`None`: SQL NULL).
pub type TextRow = Vec<Option<String>>;

/// A connection, authenticated and idle.
pub struct Connection {
    address: String,
    stream: TcpStream,
    buffer: BytesMut,
}

/// What the server said about a failed statement.
#[derive(Debug)]
pub struct ServerError {
    /// SQLSTATE, e.g. `42P01` (undefined table).
    pub code: String,
    /// The server's message.
    pub message: String,
}

impl Connection {
    /// Connects to `address` and logs in to `database` as `user`.
    pub fn open(address: &str, database: &str, user: &str, password: Option<&str>) -> Result<Connection> {
        let stream = crate::db::connect_tcp(address, "PostgreSQL")?;
        let mut c = Connection { address: address.to_owned(), stream, buffer: BytesMut::new() };
        let mut out = BytesMut::new();
        let params = [("user", user), ("database", database), ("client_encoding", "UTF8"), ("TimeZone", "UTC")];
        frontend::startup_message(params.iter().copied(), &mut out).map_err(|e| c.io("send to", &e))?;
        c.send(&out)?;
        loop {
            match c.receive()? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => {
                    let mut out = BytesMut::new();
                    frontend::password_message(c.password(password)?.as_bytes(), &mut out)
                        .map_err(|e| c.io("send to", &e))?;
                    c.send(&out)?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = postgres_protocol::authentication::md5_hash(
                        user.as_bytes(),
                        c.password(password)?.as_bytes(),
                        body.salt(),
                    );
                    let mut out = BytesMut::new();
                    frontend::password_message(hash.as_bytes(), &mut out).map_err(|e| c.io("send to", &e))?;
                    c.send(&out)?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut scram = false;
                    while let Some(m) = mechanisms.next().map_err(|e| c.io("read from", &e))? {
                        scram |= m == SCRAM_SHA_256;
                    }
                    if !scram {
                        return Err(Error::connection(format!(
                            "PostgreSQL at {address} offers no SASL mechanism Weir speaks (SCRAM-SHA-256)"
                        )));
                    }
                    let mut sasl = ScramSha256::new(c.password(password)?.as_bytes(), ChannelBinding::unsupported());
                    let mut out = BytesMut::new();
                    frontend::sasl_initial_response(SCRAM_SHA_256, sasl.message(), &mut out)
                        .map_err(|e| c.io("send to", &e))?;
                    c.send(&out)?;
                    let body = match c.receive()? {
                        Message::AuthenticationSaslContinue(body) => body,
                        Message::ErrorResponse(body) => return Err(c.login_refused(user, &server_error(&body))),
                        _ => return Err(c.unexpected("SASL continue")),
                    };
                    sasl.update(body.data()).map_err(|e| c.auth_failed(&e.to_string()))?;
                    let mut out = BytesMut::new();
                    frontend::sasl_response(sasl.message(), &mut out).map_err(|e| c.io("send to", &e))?;
                    c.send(&out)?;
                    let body = match c.receive()? {
                        Message::AuthenticationSaslFinal(body) => body,
                        Message::ErrorResponse(body) => return Err(c.login_refused(user, &server_error(&body))),
                        _ => return Err(c.unexpected("SASL final")),
                    };
                    sasl.finish(body.data()).map_err(|e| c.auth_failed(&e.to_string()))?;
                }
                Message::ReadyForQuery(_) => return Ok(c),
                Message::ErrorResponse(body) => return Err(c.login_refused(user, &server_error(&body))),
                Message::ParameterStatus(_) | Message::BackendKeyData(_) | Message::NoticeResponse(_) => {}
                _ => return Err(c.unexpected("the login")),
            }
        }
    }

    /// The server refused the login: a wrong user or password is the
    /// table's `password` option to fix.
    fn login_refused(&self, user: &str, e: &ServerError) -> Error {
        if e.code == "28P01" || e.code == "28000" {
            Error::config(
                Some("password"),
                format!("PostgreSQL at {} refused user '{user}': {} ({})", self.address, e.message, e.code),
            )
        } else {
            Error::connection(format!("PostgreSQL at {}: {} ({})", self.address, e.message, e.code))
        }
    }

    fn password<'a>(&self, password: Option<&'a str>) -> Result<&'a str> {
        password.ok_or_else(|| {
            Error::config(
                Some("password"),
                format!("PostgreSQL at {} asks for a password; set 'password'", self.address),
            )
        })
    }

    /// Runs `sql` (simple query protocol); calls `row` for each result row.
    /// `Err(Ok(server error))` when the server refused the statement.
    pub fn query(
        &mut self,
        sql: &str,
        mut row: impl FnMut(TextRow) -> Result<()>,
    ) -> Result<std::result::Result<(), ServerError>> {
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(|e| self.io("send to", &e))?;
        self.send(&out)?;
        let mut failed = None;
        loop {
            match self.receive()? {
                Message::DataRow(body) => {
                    let buffer = body.buffer();
                    let mut values = Vec::new();
                    let mut ranges = body.ranges();
                    while let Some(range) = ranges.next().map_err(|e| self.io("read from", &e))? {
                        values.push(match range {
                            Some(r) => Some(
                                std::str::from_utf8(&buffer[r])
                                    .map_err(|_| self.unexpected("a text value that is not UTF-8"))?
                                    .to_owned(),
                            ),
                            None => None,
                        });
                    }
                    if failed.is_none() {
                        row(values)?;
                    }
                }
                Message::ErrorResponse(body) => failed = Some(server_error(&body)),
                Message::ReadyForQuery(_) => return Ok(failed.map_or(Ok(()), Err)),
                _ => {}
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(|e| self.io("send to", &e))
    }

    fn receive(&mut self) -> Result<Message> {
        loop {
            if let Some(message) = Message::parse(&mut self.buffer).map_err(|e| self.io("read from", &e))? {
                return Ok(message);
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk).map_err(|e| self.io("read from", &e))?;
            if n == 0 {
                return Err(Error::connection(format!("PostgreSQL at {} closed the connection", self.address)));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    fn io(&self, what: &str, e: &std::io::Error) -> Error {
        Error::connection(format!("cannot {what} PostgreSQL at {}: {e}", self.address))
    }

    fn unexpected(&self, during: &str) -> Error {
        Error::connection(format!("PostgreSQL at {} sent an unexpected message during {during}", self.address))
    }

    fn auth_failed(&self, what: &str) -> Error {
        Error::config(
            Some("password"),
            format!("SCRAM authentication with PostgreSQL at {} failed: {what}", self.address),
        )
    }
}

fn server_error(body: &postgres_protocol::message::backend::ErrorResponseBody) -> ServerError {
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        match f.type_() {
            b'C' => code = String::from_utf8_lossy(f.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(f.value_bytes()).into_owned(),
            _ => {}
        }
    }
    ServerError { code, message }
}
