//! Endpoints: `tcp://host:port`, `ipc://path`, `inproc://name`.

use std::fmt;
use std::path::PathBuf;

use crate::error::Error;

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `tcp://host:port`; the host may be a name, an IPv4 address, a bracketed
    /// IPv6 address or `*` (all interfaces, when binding); the port may be
    /// `*` (any free port, when binding).
    Tcp {
        /// Host part, brackets removed.
        host: String,
        /// Port; 0 for `*`.
        port: u16,
    },
    /// `ipc://path`: a Unix domain socket.
    Ipc(PathBuf),
    /// `inproc://name`: within this process.
    Inproc(String),
}

impl Endpoint {
    /// Parses an endpoint string.
    pub fn parse(s: &str) -> Result<Endpoint, Error> {
        let bad = |reason| Error::InvalidEndpoint {
            endpoint: s.to_owned(),
            reason,
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://address"))?;
        match scheme {
            "tcp" => {
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("expected host:port"))?;
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                if host.is_empty() {
                    return Err(bad("empty host"));
                }
                let port = match port {
                    "*" | "0" => 0,
                    p => p
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| bad("bad port"))?,
                };
                Ok(Endpoint::Tcp {
                    host: host.to_owned(),
                    port,
                })
            }
            "ipc" => {
                if rest.is_empty() {
                    return Err(bad("empty ipc path"));
                }
                Ok(Endpoint::Ipc(PathBuf::from(rest)))
            }
            "inproc" => {
                if rest.is_empty() {
                    return Err(bad("empty inproc name"));
                }
                Ok(Endpoint::Inproc(rest.to_owned()))
            }
            _ => Err(bad(
                "unsupported transport (tcp, ipc and inproc are supported)",
            )),
        }
    }

    /// The host to bind to: `*` means every IPv4 interface.
    pub(crate) fn bind_addr(host: &str, port: u16) -> String {
        match host {
            "*" => format!("0.0.0.0:{port}"),
            h if h.contains(':') => format!("[{h}]:{port}"),
            h => format!("{h}:{port}"),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ipc(path) => write!(f, "ipc://{}", path.display()),
            Endpoint::Inproc(name) => write!(f, "inproc://{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_ipc() {
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:5555").unwrap(),
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 5555
            }
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:*").unwrap(),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 0
            }
        );
        assert_eq!(
            Endpoint::parse("tcp://[::1]:7").unwrap().to_string(),
            "tcp://[::1]:7"
        );
        assert_eq!(
            Endpoint::parse("ipc:///tmp/x.sock").unwrap(),
            Endpoint::Ipc("/tmp/x.sock".into())
        );
    }

    #[test]
    fn rejects_bad_endpoints_with_a_reason() {
        for bad in [
            "",
            "tcp://",
            "tcp://host",
            "tcp://:5",
            "tcp://h:99999",
            "udp://h:1",
            "ipc://",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid endpoint"),
                "{bad}: {err}"
            );
        }
    }
}
