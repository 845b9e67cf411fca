//! JSON over `wasi:http/outgoing-handler`: the only way out of this
//! component. The host sends a request only when its URL lies under an
//! `--allow-http` prefix that the spec's `http {url}` capability also names.

use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasip2::io::streams::StreamError;
use weir_sdk::{Error, Result};

/// A server's base URL, split the way `wasi:http` wants it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://127.0.0.1:8000`, as the option gave it (for messages).
    pub url: String,
    scheme: Scheme,
    authority: String,
    /// Path prefix without a trailing slash (often empty).
    base: String,
    timeout: Duration,
}

/// A server's answer that is not 2xx: its status and body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/path]`.
    pub fn parse(url: &str, timeout: Duration) -> std::result::Result<Endpoint, String> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or("write the server's URL, such as http://127.0.0.1:8000")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("'{other}' is not http or https")),
        };
        let (authority, base) = rest.find('/').map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
        if authority.is_empty() {
            return Err("the URL names no host".into());
        }
        if base.contains(['?', '#']) {
            return Err("the URL must not carry a query or fragment".into());
        }
        Ok(Endpoint {
            url: url.trim_end_matches('/').to_owned(),
            scheme,
            authority: authority.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    /// Sends `method path` with `body` as JSON; the answer's body as JSON.
    /// `Err(Error::Connection)` when no answer came (unreachable, timed
    /// out, refused by the host's policy); `Ok(Err(refused))` for a non-2xx
    /// answer, for the caller to put in its own terms.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<std::result::Result<serde_json::Value, Refused>> {
        let (status, bytes) = self.send(method, path, body).map_err(|e| self.unreachable(e))?;
        if !(200..300).contains(&status) {
            return Ok(Err(Refused { status, body: String::from_utf8_lossy(&bytes).into_owned() }));
        }
        if bytes.is_empty() {
            return Ok(Ok(serde_json::Value::Null));
        }
        serde_json::from_slice(&bytes).map(Ok).map_err(|e| {
            Error::connection(format!("{} {method} {path} answered with JSON that does not parse: {e}", self.url))
        })
    }

    fn unreachable(&self, e: Failure) -> Error {
        match e {
            Failure::Http(ErrorCode::HttpRequestDenied) => Error::config(
                Some("url"),
                format!("the host refused a request to {} (grant it with --allow-http {}/)", self.url, self.url),
            ),
            Failure::Http(ErrorCode::ConnectionRefused) => {
                Error::connection(format!("{} is unreachable: connection refused (is the server running?)", self.url))
            }
            Failure::Http(
                ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout,
            ) => Error::connection(format!("{} did not answer within request-timeout = {:?}", self.url, self.timeout)),
            Failure::Http(other) => Error::connection(format!("{} is unreachable: {other:?}", self.url)),
            Failure::Other(message) => Error::connection(format!("{}: {message}", self.url)),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> std::result::Result<(u16, Vec<u8>), Failure> {
        let headers = Fields::new();
        if body.is_some() {
            headers
                .append("content-type", b"application/json")
                .map_err(|e| Failure::Other(format!("header: {e:?}")))?;
        }
        let request = OutgoingRequest::new(headers);
        let method = match method {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_owned()),
        };
        let bad = |what: &str| Failure::Other(format!("the request's {what} was refused"));
        request.set_method(&method).map_err(|()| bad("method"))?;
        request.set_scheme(Some(&self.scheme)).map_err(|()| bad("scheme"))?;
        request.set_authority(Some(&self.authority)).map_err(|()| bad("authority"))?;
        request.set_path_with_query(Some(&format!("{}{path}", self.base))).map_err(|()| bad("path"))?;
        let outgoing = request.body().map_err(|()| bad("body"))?;
        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // Not every host supports every timeout; those it refuses stay unset.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        let pending = outgoing_handler::handle(request, Some(options)).map_err(Failure::Http)?;
        if let Some(body) = body {
            let stream = outgoing.write().map_err(|()| bad("body stream"))?;
            write_all(&stream, body)?;
            drop(stream);
        }
        OutgoingBody::finish(outgoing, None).map_err(Failure::Http)?;
        pending.subscribe().block();
        let response = pending
            .get()
            .ok_or_else(|| Failure::Other("no response".into()))?
            .map_err(|()| Failure::Other("the response was taken twice".into()))?
            .map_err(Failure::Http)?;
        let status = response.status();
        let incoming = response.consume().map_err(|()| Failure::Other("the response has no body".into()))?;
        let stream = incoming.stream().map_err(|()| Failure::Other("the response's body has no stream".into()))?;
        let mut out = Vec::new();
        loop {
            match stream.blocking_read(1 << 20) {
                Ok(chunk) => out.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(Failure::Other(format!("reading the answer failed: {}", e.to_debug_string())));
                }
            }
        }
        Ok((status, out))
    }
}

/// Why no answer came.
enum Failure {
    Http(ErrorCode),
    Other(String),
}

/// Writes `bytes` as fast as the stream takes them (not 4 KiB per flush).
fn write_all(stream: &wasip2::io::streams::OutputStream, mut bytes: &[u8]) -> std::result::Result<(), Failure> {
    let failed = |e: StreamError| Failure::Other(format!("sending the request failed: {e:?}"));
    let pollable = stream.subscribe();
    while !bytes.is_empty() {
        let room = stream.check_write().map_err(failed)?;
        if room == 0 {
            pollable.block();
            continue;
        }
        let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        stream.write(&bytes[..n]).map_err(failed)?;
        bytes = &bytes[n..];
    }
    stream.flush().map_err(failed)?;
    pollable.block();
    stream.check_write().map_err(failed)?;
    Ok(())
}
