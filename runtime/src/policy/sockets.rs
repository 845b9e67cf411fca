//! Sockets: TCP connections only to the granted endpoints' addresses, name
//! lookups only of their host names ([`NameLookup`]), no listening and no
//! UDP. Every refusal is recorded for `weir verify`'s `capabilities.used`.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{self, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{self, ErrorCode, IpAddress};
use wasmtime_wasi::p2::{DynPollable, Network, SocketError};
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsCtxView};

use super::Denials;

/// A `host:port` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `host:port` (`[v6]:port` for IPv6 literals).
    pub fn parse(text: &str) -> Option<Endpoint> {
        let (host, port) = text.trim().rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty()).then(|| Some(Endpoint { host: host.to_owned(), port: port.parse().ok()? }))?
    }

    /// The addresses the host name resolves to (on the host, once).
    fn addresses(&self) -> Vec<IpAddr> {
        (self.host.as_str(), self.port).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default()
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Whether a guest whose granted endpoints have the host names `allowed`
/// (lower case) may resolve `name`: only those names, compared without case
/// and a trailing dot. IP literals need no lookup and are always "resolved"
/// (the socket-address check still decides whether they can be reached).
pub fn may_resolve(allowed: &[String], name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok() || allowed.iter().any(|a| a.trim_end_matches('.') == name)
}

/// TCP only to the addresses the granted endpoints resolve to; name
/// lookups only with a grant (and then only its names, see
/// [`NameLookup`]); no UDP. Refusals are recorded in `denials`.
pub(super) fn configure(builder: &mut WasiCtxBuilder, connect: &[Endpoint], denials: &Denials) {
    // Sockets: TCP only when an endpoint is granted, and then only to the
    // addresses those endpoints resolve to (plus the implicit bind a
    // connect performs first). No UDP.
    let allowed: Arc<Vec<SocketAddr>> = Arc::new(
        connect.iter().flat_map(|e| e.addresses().into_iter().map(move |ip| SocketAddr::new(ip, e.port))).collect(),
    );
    // Name lookups need a connect grant, and then only the granted host
    // names resolve (checked by `store::NameLookup`, linked over WASI's own).
    // TCP sockets can always be created, so that every connect and bind
    // reaches the socket-address check below — which refuses anything not
    // granted (everything, with no grant) and records the attempt.
    let any = !connect.is_empty();
    builder.allow_tcp(true).allow_udp(false).allow_ip_name_lookup(any);
    let denials = denials.clone();
    builder.socket_addr_check(move |addr, use_| {
        let allowed = allowed.clone();
        let denials = denials.clone();
        Box::pin(async move {
            let ok = match use_ {
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                // The bind a connect does first, to an unspecified address.
                SocketAddrUse::TcpBind => !allowed.is_empty() && addr.ip().is_unspecified() && addr.port() == 0,
                _ => false,
            };
            if !ok {
                denials.record(match use_ {
                    SocketAddrUse::TcpConnect => format!("TCP connect to {addr}"),
                    // What a connect does first; with no grant it is refused
                    // here, before the destination is known.
                    SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => {
                        format!("TCP connect or listen (its bind to {addr})")
                    }
                    SocketAddrUse::TcpBind => format!("TCP bind on {addr}"),
                    SocketAddrUse::TcpListen => format!("TCP listen on {addr}"),
                    SocketAddrUse::TcpAccept => format!("TCP accept from {addr}"),
                    SocketAddrUse::UdpBind => format!("UDP bind on {addr}"),
                    SocketAddrUse::UdpSend => format!("UDP datagram to {addr}"),
                    SocketAddrUse::UdpReceive => format!("UDP datagram from {addr}"),
                });
            }
            ok
        })
    });
}

/// `wasi:sockets/ip-name-lookup` as the guest sees it: only the host names
/// of its granted endpoints resolve; every other name is refused before any
/// DNS query leaves the host (a lookup alone can leak data to a resolver).
/// The engine links this over wasmtime-wasi's own implementation.
pub struct NameLookup<'a> {
    inner: WasiSocketsCtxView<'a>,
    allowed: &'a [String],
    denials: &'a Denials,
}

impl<'a> NameLookup<'a> {
    /// The view of `inner` in which only the host names `allowed` resolve.
    pub fn new(inner: WasiSocketsCtxView<'a>, allowed: &'a [String], denials: &'a Denials) -> Self {
        NameLookup { inner, allowed, denials }
    }
}

/// Marks [`NameLookup`] as the data of the shadowed interface.
pub struct HasNameLookup;

impl HasData for HasNameLookup {
    type Data<'a> = NameLookup<'a>;
}

impl ip_name_lookup::Host for NameLookup<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        if !may_resolve(self.allowed, &name) {
            self.denials.record(format!("name lookup of '{name}'"));
            return Err(ErrorCode::AccessDenied.into());
        }
        ip_name_lookup::Host::resolve_addresses(&mut self.inner, network, name)
    }
}

// The shadowed interface uses `network`'s error code; its conversion is
// wasmtime-wasi's own.
impl network::Host for NameLookup<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.inner, error)
    }

    fn network_error_code(&mut self, err: Resource<network::Error>) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.inner, err)
    }
}

impl network::HostNetwork for NameLookup<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.inner, this)
    }
}

impl ip_name_lookup::HostResolveAddressStream for NameLookup<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        ip_name_lookup::HostResolveAddressStream::resolve_next_address(&mut self.inner, stream)
    }

    fn subscribe(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<Resource<DynPollable>> {
        ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.inner, stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        ip_name_lookup::HostResolveAddressStream::drop(&mut self.inner, stream)
    }
}
