//! The security flags shared by `send`, `recv` and `perf`: CURVE and PLAIN, as
//! client or server.
//!
//! Secrets never go on the command line, where `ps` and shell history would
//! show them: a CURVE secret key comes from a certificate file (written by
//! `weirmq keygen PATH`) and a PLAIN password from an environment variable.

use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use weirmq::{AuthDecision, AuthRequest, Error, Keypair, Options, PublicKey, cert};

/// The environment variable a PLAIN client's password is read from.
pub(crate) const PLAIN_PASSWORD_ENV: &str = "WEIRMQ_PLAIN_PASSWORD";

#[derive(Args, Debug, Default)]
pub(crate) struct Security {
    /// CURVE server: prove the keypair in this certificate (the secret file
    /// `weirmq keygen PATH` wrote, PATH_secret). Every client key is allowed
    /// unless --curve-allow names some.
    #[arg(long, value_name = "SECRET_CERT", conflicts_with_all = ["curve_serverkey", "plain_server", "plain_username"])]
    curve_server: Option<PathBuf>,
    /// CURVE server: allow only this client public key (Z85, a
    /// certificate file, or a directory of public certificates, which is
    /// read again whenever it changes); repeatable.
    // A Z85 key may begin with '-': it is the value, not another option.
    #[arg(
        long,
        value_name = "KEY",
        requires = "curve_server",
        allow_hyphen_values = true
    )]
    curve_allow: Vec<String>,
    /// CURVE client: the server's public key (Z85, or a certificate file).
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with_all = ["plain_server", "plain_username"],
        allow_hyphen_values = true
    )]
    curve_serverkey: Option<String>,
    /// CURVE client: our keypair's secret certificate file; without it, a
    /// fresh keypair is made for this run.
    #[arg(long, value_name = "SECRET_CERT", requires = "curve_serverkey")]
    curve_keyfile: Option<PathBuf>,
    /// PLAIN client: the user name; the password comes from the
    /// WEIRMQ_PLAIN_PASSWORD environment variable.
    #[arg(long, value_name = "NAME", conflicts_with = "plain_server")]
    plain_username: Option<String>,
    /// PLAIN server: allow this USER:PASSWORD; repeatable. Without any, every
    /// client is refused.
    #[arg(
        long = "plain-user",
        value_name = "USER:PASSWORD",
        requires = "plain_server"
    )]
    plain_users: Vec<String>,
    /// PLAIN server.
    #[arg(long)]
    plain_server: bool,
}

/// A public key given as Z85 text, or as a certificate file's path.
fn public_key(text: &str) -> Result<PublicKey, Error> {
    match PublicKey::from_z85(text) {
        Ok(key) => Ok(key),
        Err(z85) => {
            let path = PathBuf::from(text);
            if path.exists() {
                cert::read_public_key(&path)
            } else {
                Err(Error::InvalidOption(format!(
                    "{text}: neither a Z85 key ({z85}) nor a certificate file"
                )))
            }
        }
    }
}

impl Security {
    /// Adds the chosen mechanism (and its authenticator) to `options`.
    pub(crate) fn apply(&self, options: Options) -> Result<Options, Error> {
        if let Some(path) = &self.curve_server {
            let keypair = cert::read_keypair(path)?;
            let (dirs, keys): (Vec<&String>, Vec<&String>) = self
                .curve_allow
                .iter()
                .partition(|k| std::path::Path::new(k).is_dir());
            let allowed = keys
                .into_iter()
                .map(|k| public_key(k))
                .collect::<Result<Vec<_>, _>>()?;
            let stores = dirs
                .into_iter()
                .map(cert::CertStore::open)
                .collect::<Result<Vec<_>, _>>()?;
            let options = options.with_curve_server(keypair);
            if allowed.is_empty() && stores.is_empty() {
                return Ok(options);
            }
            // Each directory is looked at again every second, for as long
            // as the socket (which holds the authenticator) lives.
            let watching: Vec<cert::Watcher> = stores
                .iter()
                .map(|s| s.watch(std::time::Duration::from_secs(1)))
                .collect();
            return Ok(options.with_authenticator(move |request, _peer| {
                let _watching = &watching;
                match request {
                    AuthRequest::Curve { public_key }
                        if allowed.contains(public_key)
                            || stores.iter().any(|s| s.contains(public_key)) =>
                    {
                        AuthDecision::Allow {
                            user_id: Bytes::from(public_key.to_z85()),
                        }
                    }
                    _ => deny(),
                }
            }));
        }
        if let Some(server) = &self.curve_serverkey {
            let keypair = match &self.curve_keyfile {
                Some(path) => cert::read_keypair(path)?,
                None => Keypair::generate(),
            };
            return Ok(options.with_curve_client(public_key(server)?, keypair));
        }
        if let Some(username) = &self.plain_username {
            let password = std::env::var(PLAIN_PASSWORD_ENV).map_err(|_| {
                Error::InvalidOption(format!(
                    "--plain-username needs the password in {PLAIN_PASSWORD_ENV}"
                ))
            })?;
            return Ok(options.with_plain_client(username.clone(), password));
        }
        if self.plain_server {
            let users = self
                .plain_users
                .iter()
                .map(|u| {
                    u.split_once(':')
                        .map(|(n, p)| (n.as_bytes().to_vec(), p.as_bytes().to_vec()))
                        .ok_or_else(|| {
                            Error::InvalidOption(format!("--plain-user {u:?}: not USER:PASSWORD"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(options
                .with_plain_server()
                .with_authenticator(move |request, _peer| match request {
                    AuthRequest::Plain { username, password }
                        if users
                            .iter()
                            .any(|(n, p)| n[..] == username[..] && p[..] == password[..]) =>
                    {
                        AuthDecision::Allow {
                            user_id: username.clone(),
                        }
                    }
                    _ => deny(),
                }));
        }
        Ok(options)
    }
}

fn deny() -> AuthDecision {
    AuthDecision::Deny {
        status: Bytes::from_static(b"400"),
    }
}
