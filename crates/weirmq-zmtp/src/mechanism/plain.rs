//! The PLAIN mechanism (RFC 24): a user name and password in the clear,
//! checked by the server's authenticator.
//!
//! ```text
//! C: HELLO (username, password)     S: WELCOME (or ERROR)
//! C: INITIATE (metadata)            S: READY (metadata)
//! hello = command-size %d5 "HELLO" username password
//! username = OCTET *255OCTET ; password = OCTET *255OCTET
//! welcome = command-size %d7 "WELCOME"
//! initiate = command-size %d8 "INITIATE" metadata
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::Command;
use crate::error::{Error, ErrorReason, Field, MalformedError, ProtocolError};
use crate::mechanism::{AuthRequest, Codec, Handshake, Step};
use crate::metadata::Metadata;
use crate::outbox::Outbox;
use crate::reader::Reader;

const HELLO: &[u8] = b"HELLO";
const WELCOME: &[u8] = b"WELCOME";
const INITIATE: &[u8] = b"INITIATE";

fn unexpected(command: Command) -> Error {
    match command {
        Command::Error(reason) => Error::PeerError(reason),
        other => ProtocolError::UnexpectedCommand {
            name: ErrorReason(Bytes::copy_from_slice(other.name())),
        }
        .into(),
    }
}

fn other(name: &[u8], data: &[u8]) -> Command {
    Command::Other {
        name: Bytes::copy_from_slice(name),
        data: Bytes::copy_from_slice(data),
    }
}

/// Client: HELLO sent, WELCOME awaited.
#[derive(Debug)]
pub(crate) struct ClientAwaitingWelcome {
    ours: Metadata,
}

/// Client: INITIATE sent, READY awaited.
#[derive(Debug)]
pub(crate) struct ClientAwaitingReady;

impl ClientAwaitingWelcome {
    pub(crate) fn start(
        username: &[u8],
        password: &[u8],
        ours: &Metadata,
        out: &mut Outbox,
    ) -> ClientAwaitingWelcome {
        // Lengths were checked when the connection was configured.
        let mut data = BytesMut::with_capacity(2 + username.len() + password.len());
        data.put_u8(username.len() as u8);
        data.extend_from_slice(username);
        data.put_u8(password.len() as u8);
        data.extend_from_slice(password);
        out.command(&Command::Other {
            name: Bytes::from_static(HELLO),
            data: data.freeze(),
        });
        ClientAwaitingWelcome { ours: ours.clone() }
    }

    pub(crate) fn handle(self, command: Command, out: &mut Outbox) -> Result<Step, Error> {
        match command {
            Command::Other { name, data } if name == WELCOME => {
                // libzmq: a WELCOME with any data is malformed.
                if !data.is_empty() {
                    return Err(ProtocolError::UnexpectedCommand {
                        name: ErrorReason(Bytes::from_static(b"WELCOME with data")),
                    }
                    .into());
                }
                let mut body = BytesMut::new();
                self.ours.encode(&mut body);
                out.command(&Command::Other {
                    name: Bytes::from_static(INITIATE),
                    data: body.freeze(),
                });
                Ok(Step::Continue(Handshake::PlainClientReady(
                    ClientAwaitingReady,
                )))
            }
            other => Err(unexpected(other)),
        }
    }
}

impl ClientAwaitingReady {
    pub(crate) fn handle(self, command: Command) -> Result<Step, Error> {
        match command {
            Command::Ready(peer) => Ok(Step::Done(peer, Codec::Clear)),
            other => Err(unexpected(other)),
        }
    }
}

/// Server: HELLO awaited.
#[derive(Debug)]
pub(crate) struct ServerAwaitingHello {
    ours: Metadata,
}

/// Server: the credentials are with the authenticator.
#[derive(Debug)]
pub(crate) struct ServerAwaitingDecision {
    ours: Metadata,
}

/// Server: WELCOME sent, INITIATE awaited.
#[derive(Debug)]
pub(crate) struct ServerAwaitingInitiate {
    ours: Metadata,
}

impl ServerAwaitingHello {
    pub(crate) fn start(ours: &Metadata) -> ServerAwaitingHello {
        ServerAwaitingHello { ours: ours.clone() }
    }

    pub(crate) fn handle(self, command: Command) -> Result<Step, Error> {
        match command {
            Command::Other { name, data } if name == HELLO => {
                let mut r = Reader::new(data);
                let username = r.short_string(Field::Credential)?;
                let password = r.short_string(Field::Credential)?;
                if !r.is_empty() {
                    return Err(MalformedError::TrailingData(Field::Credential).into());
                }
                Ok(Step::Authenticate(
                    AuthRequest::Plain { username, password },
                    Handshake::PlainServerDecision(ServerAwaitingDecision { ours: self.ours }),
                ))
            }
            other => Err(unexpected(other)),
        }
    }
}

impl ServerAwaitingDecision {
    /// The authenticator allowed the client: WELCOME.
    pub(crate) fn allow(self, out: &mut Outbox) -> Step {
        out.command(&other(WELCOME, b""));
        Step::Continue(Handshake::PlainServerInitiate(ServerAwaitingInitiate {
            ours: self.ours,
        }))
    }
}

impl ServerAwaitingInitiate {
    pub(crate) fn handle(self, command: Command, out: &mut Outbox) -> Result<Step, Error> {
        match command {
            Command::Other { name, data } if name == INITIATE => {
                let peer = Metadata::decode(data)?;
                out.ready(&self.ours);
                Ok(Step::Done(peer, Codec::Clear))
            }
            other => Err(unexpected(other)),
        }
    }
}
