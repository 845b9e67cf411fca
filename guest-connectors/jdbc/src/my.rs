//! A MySQL / MariaDB client over `std::net` (wasi:sockets inside the
//! component), on `mysql_common` (framing, the handshake, the
//! `mysql_native_password` and `caching_sha2_password` scrambles): login,
//! text-protocol queries whose rows are read as they are asked for (a scan
//! streams one result across calls). Server errors keep MySQL's own text
//! and SQLSTATE; the password never appears in one.

use std::net::TcpStream;

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use mysql_common::proto::sync_framed::MySyncFramed;
use weir_sdk::{Error, Result};

use crate::pg::{ServerError, TextRow};

/// A connection, authenticated; idle or in the middle of a result.
pub struct Connection {
    address: String,
    framed: MySyncFramed<TcpStream>,
    /// Columns of the result being read (`None`: no result open).
    open: Option<usize>,
    /// Results of a multi-statement query still to come.
    more: bool,
}

/// What reading a result gave.
pub enum Fetched {
    /// Rows were read and more may follow.
    More,
    /// The result (and the query) ended.
    Done,
}

const CAPABILITIES: CapabilityFlags = CapabilityFlags::CLIENT_PROTOCOL_41
    .union(CapabilityFlags::CLIENT_SECURE_CONNECTION)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH)
    .union(CapabilityFlags::CLIENT_LONG_PASSWORD)
    .union(CapabilityFlags::CLIENT_LONG_FLAG)
    .union(CapabilityFlags::CLIENT_TRANSACTIONS)
    .union(CapabilityFlags::CLIENT_MULTI_STATEMENTS)
    .union(CapabilityFlags::CLIENT_MULTI_RESULTS)
    .union(CapabilityFlags::CLIENT_CONNECT_WITH_DB);

impl Connection {
    /// Connects to `address` and logs in to `database` as `user`.
    pub fn open(address: &str, database: &str, user: &str, password: Option<&str>) -> Result<Connection> {
        let stream = crate::db::connect_tcp(address, "MySQL")?;
        let mut c =
            Connection { address: address.to_owned(), framed: MySyncFramed::new(stream), open: None, more: false };
        let packet = c.packet()?;
        if packet.first() == Some(&0xff) {
            let e = server_error(&packet);
            return Err(Error::connection(format!("MySQL at {address}: {} ({})", e.message, e.code)));
        }
        let handshake: HandshakePacket<'_> =
            ParseBuf(&packet).parse(()).map_err(|e| c.unexpected(&format!("the handshake ({e})")))?;
        let capabilities = CAPABILITIES & handshake.capabilities();
        let nonce = handshake.nonce();
        let plugin = handshake.auth_plugin().map(|p| p.into_owned()).unwrap_or(AuthPlugin::MysqlNativePassword);
        let version = handshake.server_version_parsed().unwrap_or((5, 7, 0));
        let data = plugin.gen_data(password, &nonce);
        let response = HandshakeResponse::new(
            data.as_deref(),
            version,
            Some(user.as_bytes()),
            Some(database.as_bytes()),
            Some(plugin.clone()),
            capabilities,
            None,
            16 * 1024 * 1024,
        );
        c.send(&response)?;
        c.authenticate(user, password)?;
        Ok(c)
    }

    /// The server's answers to the login until OK: switching plugins and
    /// caching_sha2's fast path.
    fn authenticate(&mut self, user: &str, password: Option<&str>) -> Result<()> {
        loop {
            let packet = self.packet()?;
            match packet.first() {
                Some(0x00) => return Ok(()),
                Some(0xff) => return Err(self.login_refused(user, &server_error(&packet))),
                Some(0xfe) => {
                    let switch: AuthSwitchRequest<'_> = ParseBuf(&packet)
                        .parse(())
                        .map_err(|e| self.unexpected(&format!("an authentication switch ({e})")))?;
                    let plugin = switch.auth_plugin().into_owned();
                    let mut nonce = switch.plugin_data().to_vec();
                    // The nonce ends in a NUL the scramble leaves out.
                    if nonce.last() == Some(&0) {
                        nonce.pop();
                    }
                    if !matches!(plugin, AuthPlugin::MysqlNativePassword | AuthPlugin::CachingSha2Password) {
                        return Err(Error::connection(format!(
                            "MySQL at {} asks for the authentication plugin '{}', which Weir does not speak \
                             (mysql_native_password and caching_sha2_password's fast path are)",
                            self.address,
                            String::from_utf8_lossy(plugin.as_bytes())
                        )));
                    }
                    let data = plugin.gen_data(password, &nonce).map(|d| d.to_vec()).unwrap_or_default();
                    self.send_raw(&data)?;
                }
                // caching_sha2_password: 3 is the fast path's success, 4 asks
                // for the password in clear, which only TLS may carry.
                Some(0x01) if packet.get(1) == Some(&3) => {}
                Some(0x01) if packet.get(1) == Some(&4) => {
                    return Err(Error::connection(format!(
                        "MySQL at {} wants caching_sha2_password's full authentication, which needs TLS (not \
                         supported yet); log in once with another client so the server caches the password, or \
                         give the user mysql_native_password",
                        self.address
                    )));
                }
                _ => return Err(self.unexpected("the login")),
            }
        }
    }

    /// Runs `sql` (one or more statements) to the end; calls `row` for
    /// each row of every result. `Err(Ok(server error))` when the server
    /// refused a statement.
    pub fn query(
        &mut self,
        sql: &str,
        mut row: impl FnMut(TextRow) -> Result<()>,
    ) -> Result<std::result::Result<(), ServerError>> {
        if let Err(e) = self.start(sql)? {
            return Ok(Err(e));
        }
        loop {
            match self.fetch(usize::MAX, &mut row)? {
                Ok(Fetched::Done) => return Ok(Ok(())),
                Ok(Fetched::More) => {}
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// Sends `sql` and reads up to the first result's rows.
    pub fn start(&mut self, sql: &str) -> Result<std::result::Result<(), ServerError>> {
        if self.open.is_some() || self.more {
            return Err(Error::unsupported("a MySQL query started while another one's rows were being read"));
        }
        self.framed.codec_mut().reset_seq_id();
        let mut command = Vec::with_capacity(sql.len() + 1);
        command.push(0x03);
        command.extend_from_slice(sql.as_bytes());
        self.send_raw(&command)?;
        self.result_head()
    }

    /// Reads a result's head: an OK (no rows), an error, or the columns.
    fn result_head(&mut self) -> Result<std::result::Result<(), ServerError>> {
        let packet = self.packet()?;
        match packet.first() {
            Some(0x00) => {
                self.more = status(&packet[1..], true).contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS);
                Ok(Ok(()))
            }
            Some(0xff) => {
                self.more = false;
                Ok(Err(server_error(&packet)))
            }
            Some(_) => {
                let columns = ParseBuf(&packet).eat_lenenc_int() as usize;
                // Column definitions, then an EOF.
                for _ in 0..columns {
                    self.packet()?;
                }
                let eof = self.packet()?;
                if eof.first() != Some(&0xfe) {
                    return Err(self.unexpected("a result's column definitions"));
                }
                self.open = Some(columns);
                Ok(Ok(()))
            }
            None => Err(self.unexpected("a query's answer")),
        }
    }

    /// Reads up to `max` rows of the open result into `row`; `Done` once
    /// the query has no more results.
    pub fn fetch(
        &mut self,
        max: usize,
        row: &mut impl FnMut(TextRow) -> Result<()>,
    ) -> Result<std::result::Result<Fetched, ServerError>> {
        let mut read = 0;
        loop {
            let Some(columns) = self.open else {
                if !self.more {
                    return Ok(Ok(Fetched::Done));
                }
                if let Err(e) = self.result_head()? {
                    return Ok(Err(e));
                }
                continue;
            };
            if read >= max {
                return Ok(Ok(Fetched::More));
            }
            let packet = self.packet()?;
            match packet.first() {
                Some(0xfe) if packet.len() < 9 => {
                    self.open = None;
                    self.more = status(&packet[1..], false).contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS);
                }
                Some(0xff) => {
                    self.open = None;
                    self.more = false;
                    return Ok(Err(server_error(&packet)));
                }
                _ => {
                    let mut buf = ParseBuf(&packet);
                    let mut values = Vec::with_capacity(columns);
                    for _ in 0..columns {
                        if buf.0.first() == Some(&0xfb) {
                            buf.eat(1);
                            values.push(None);
                            continue;
                        }
                        let text = buf.checked_eat_lenenc_str().ok_or_else(|| self.unexpected("a row"))?;
                        let text =
                            std::str::from_utf8(text).map_err(|_| self.unexpected("a text value that is not UTF-8"))?;
                        values.push(Some(text.to_owned()));
                    }
                    read += 1;
                    row(values)?;
                }
            }
        }
    }

    fn send<T: MySerialize>(&mut self, message: &T) -> Result<()> {
        let mut bytes = Vec::new();
        message.serialize(&mut bytes);
        self.send_raw(&bytes)
    }

    fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        let address = self.address.clone();
        self.framed
            .send(&mut &bytes[..])
            .map_err(|e| Error::connection(format!("cannot send to MySQL at {address}: {e}")))
    }

    fn packet(&mut self) -> Result<Vec<u8>> {
        let mut packet = Vec::new();
        match self.framed.next_packet(&mut packet) {
            Ok(true) => Ok(packet),
            Ok(false) => Err(Error::connection(format!("MySQL at {} closed the connection", self.address))),
            Err(e) => Err(Error::connection(format!("cannot read from MySQL at {}: {e}", self.address))),
        }
    }

    fn unexpected(&self, during: &str) -> Error {
        Error::connection(format!("MySQL at {} sent an unexpected message during {during}", self.address))
    }

    /// The server refused the login: access denied is the table's
    /// `password` (or `username`) option to fix.
    fn login_refused(&self, user: &str, e: &ServerError) -> Error {
        if e.code == "28000" {
            Error::config(
                Some("password"),
                format!("MySQL at {} refused user '{user}': {} ({})", self.address, e.message, e.code),
            )
        } else {
            Error::connection(format!("MySQL at {}: {} ({})", self.address, e.message, e.code))
        }
    }
}

/// The status flags of an OK (after its two length-encoded integers) or
/// an EOF (after its warning count) packet body.
fn status(body: &[u8], ok: bool) -> StatusFlags {
    let mut buf = ParseBuf(body);
    if ok {
        let _ = buf.checked_eat_lenenc_int();
        let _ = buf.checked_eat_lenenc_int();
    } else {
        let _ = buf.checked_eat_u16_le();
    }
    StatusFlags::from_bits_truncate(buf.checked_eat_u16_le().unwrap_or(0))
}

/// An ERR packet: `0xff`, the error number, `#` and the SQLSTATE, the text.
fn server_error(packet: &[u8]) -> ServerError {
    let mut buf = ParseBuf(packet.get(1..).unwrap_or_default());
    let number = buf.checked_eat_u16_le().unwrap_or(0);
    let rest = buf.0;
    let (code, message) = match rest.strip_prefix(b"#") {
        Some(r) if r.len() >= 5 => (String::from_utf8_lossy(&r[..5]).into_owned(), &r[5..]),
        _ => ("HY000".to_owned(), rest),
    };
    ServerError { code, message: format!("{} [{number}]", String::from_utf8_lossy(message)) }
}
