//! HTTP (`wasi:http`): a request is sent only when its URL lies under a
//! granted URL prefix, compared as a server would read the path; the
//! check runs in the send-request hook ([`HttpGate`]), before any connection.

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::Denials;

/// A URL prefix of an `http` grant, parsed: requests must use the same
/// scheme and authority (host and port, the scheme's default port spelled
/// out or not) and a path under the prefix's path. `https://api.x.com/v1`
/// admits `/v1` and `/v1/…` but neither `/v10` nor `api.x.com.evil.net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

impl UrlPrefix {
    /// Parses `scheme://host[:port][/path]` (http or https).
    pub fn parse(text: &str) -> Result<UrlPrefix, String> {
        let (scheme, rest) =
            text.split_once("://").ok_or_else(|| "write a URL prefix such as https://host/path/".to_owned())?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => return Err(format!("scheme '{other}' is not http or https")),
        };
        let (authority, path) = rest.find(['/', '?', '#']).map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        if authority.contains('@') {
            return Err("user information (user@host) is not allowed in a URL prefix".to_owned());
        }
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("'{p}' is not a port"));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| "unclosed '[' in the host".to_owned())?;
            match after.strip_prefix(':') {
                Some(p) => (host, port(p)?),
                None if after.is_empty() => (host, default_port),
                None => return Err(format!("unexpected '{after}' after the host")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, p)) => (host, port(p)?),
                None => (authority, default_port),
            }
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err("the URL prefix has no host".to_owned());
        }
        // Query and fragment are not part of what a prefix admits.
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = if path.is_empty() { "/".to_owned() } else { path.to_owned() };
        Ok(UrlPrefix { scheme, host, port, path })
    }

    /// Whether the URL (or narrower prefix) `url` lies under this prefix.
    /// Both paths are compared as servers will read them: fully decoded
    /// ([`canonical_path`]); a path that could be read two ways is refused.
    fn admits(&self, url: &UrlPrefix) -> bool {
        if self.scheme != url.scheme || self.host != url.host || self.port != url.port {
            return false;
        }
        let (Some(prefix), Some(path)) = (canonical_path(&self.path), canonical_path(&url.path)) else {
            return false;
        };
        match path.strip_prefix(prefix.as_str()) {
            Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

/// How many rounds of percent-decoding a path may need; more is refused.
const MAX_DECODE_ROUNDS: usize = 4;

/// A request path as a server that decodes and normalises it would see it,
/// or `None` when it is ambiguous — then the request is refused (fail
/// closed). Each `/`-separated segment is percent-decoded until no `%` is
/// left (so `%252e` counts as `.`; a `%` that is no escape never goes
/// away, so it is refused after [`MAX_DECODE_ROUNDS`]); refused are
/// segments that decode to `.` or `..`, that contain `/` or `\` after
/// decoding (an encoded separator, or one that some servers take as a
/// separator), `;` (path parameters, which some servers strip: `..;/`),
/// control characters, or invalid UTF-8.
pub fn canonical_path(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        let mut text = segment.to_owned();
        let mut rounds = 0;
        while text.contains('%') {
            rounds += 1;
            if rounds > MAX_DECODE_ROUNDS {
                return None;
            }
            text = percent_encoding::percent_decode_str(&text).decode_utf8().ok()?.into_owned();
        }
        if text == "." || text == ".." || text.contains(['/', '\\', ';']) || text.chars().any(char::is_control) {
            return None;
        }
        if i > 0 {
            out.push('/');
        }
        out.push_str(&text);
    }
    Some(out)
}

/// Whether an outgoing HTTP request to `url` (or a declared prefix) lies
/// under one of the granted URL `prefixes`. Unparsable URLs are refused.
pub fn may_request(prefixes: &[String], url: &str) -> bool {
    let Ok(url) = UrlPrefix::parse(url) else { return false };
    prefixes.iter().filter_map(|p| UrlPrefix::parse(p).ok()).any(|p| p.admits(&url))
}

/// The request check of `wasi:http/outgoing-handler`: a request is sent only
/// when its URL lies under one of the instance's granted prefixes
/// ([`may_request`]); any other fails with `HTTP-request-denied`
/// before a connection is opened. The host makes the connection itself (it
/// does not go through the guest's socket grants), so this is the only gate.
pub struct HttpGate {
    prefixes: Vec<String>,
    component: String,
    denials: Denials,
}

impl HttpGate {
    /// The gate of an instance of `component` granted `prefixes`.
    pub fn new(prefixes: Vec<String>, component: &str, denials: Denials) -> Self {
        HttpGate { prefixes, component: component.to_owned(), denials }
    }
}

/// What the send-request hook returns: the response and the future driving
/// its connection.
type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let url = request.uri().to_string();
        if !may_request(&self.prefixes, &url) {
            tracing::warn!(target: "weir::policy", component = %self.component, "HTTP request to {url} refused: not under a granted URL prefix");
            self.denials.record(format!("HTTP request to {url}"));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        // The default sender, unchanged, for granted requests.
        struct DefaultSender;
        impl WasiHttpHooks for DefaultSender {}
        DefaultSender.send_request(request, options, fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_grants_admit_only_urls_under_the_prefix() {
        let grants = [
            "https://api.example.com/v1".to_owned(),
            "http://localhost:8080/".to_owned(),
            "http://[::1]:9/".to_owned(),
        ];
        for ok in [
            "https://api.example.com/v1",
            "https://api.example.com/v1/users?id=1",
            "https://API.example.com:443/v1/x",
            "http://localhost:8080/anything",
            "http://localhost:8080",
            "http://[::1]:9/x",
            "https://api.example.com/%76%31/users",
            "https://api.example.com/v1/a%20b",
        ] {
            assert!(may_request(&grants, ok), "{ok} should be admitted");
        }
        for denied in [
            "https://api.example.com/v10",
            "https://api.example.com/v2/x",
            "https://api.example.com.evil.net/v1/",
            "https://evil.net/?https://api.example.com/v1/",
            "https://api.example.com@evil.net/v1/",
            "http://api.example.com/v1/",
            "https://api.example.com:8443/v1/",
            "https://api.example.com/v1/../admin",
            "https://api.example.com/v1/%2E./admin",
            "https://api.example.com/v1/..%2fadmin/secret.txt",
            "https://api.example.com/v1/..%2Fadmin",
            "https://api.example.com/v1/..%5cadmin",
            "https://api.example.com/v1/..\\admin",
            "https://api.example.com/v1/..;/admin",
            "https://api.example.com/v1/%252e%252e/admin",
            "https://api.example.com/v1/%25252e%25252e/admin",
            "https://api.example.com/v1/./x",
            "https://api.example.com/v1/a%00b",
            "https://api.example.com/v1/%zz",
            "https://api.example.com/v1/%ff",
            "https://api.example.com/%76%31%2fx/../../admin",
            "http://localhost:8081/",
            "ftp://localhost:8080/",
            "not a url",
        ] {
            assert!(!may_request(&grants, denied), "{denied} should be refused");
        }
        assert!(UrlPrefix::parse("localhost:80").is_err());
        assert!(UrlPrefix::parse("https://:80/").is_err());
    }
}
