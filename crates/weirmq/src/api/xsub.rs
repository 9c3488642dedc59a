//! XSUB (RFC 29): a SUB whose subscriptions are messages the application
//! sends (`%x01` + topic subscribes, `%x00` + topic cancels); any other
//! message goes to every publisher, as libzmq's XSUB sends it. It receives
//! as SUB does, fair-queued and filtered by its subscriptions. For proxies.

use std::future::Future;
use std::sync::Arc;

use weirmq_zmtp::{Message, SocketType};

use super::sub::Subscriber;
use super::{Handle, RecvSocket, SendSocket, Socket, private};
use crate::error::{Error, TrySendError};
use crate::options::Options;
use crate::pattern::subscriptions::Filter;
use crate::socket::Shape;

/// Peers: PUB, XPUB. Out: its subscriptions, and other messages
/// distributed to every publisher. In: fair-queued, filtered.
const SHAPE: Shape = Shape {
    socket_type: SocketType::XSub,
    has_pipe: true,
    receives: true,
    routing_id_in_front: false,
    announced_ids: false,
    subscriber: true,
    keeps_pipe_on_reconnect: false,
    routes_before_connect: false,
    through: false,
    max_peers: None,
};

/// XSUB: a SUB whose subscriptions are messages the application sends:
/// `%x01` + topic subscribes, `%x00` + topic cancels (RFC 29). For proxies.
#[derive(Debug)]
pub struct XSub {
    handle: Handle,
    role: Arc<Subscriber>,
}

impl XSub {
    /// A subscription change, if `msg` is one: `(subscribe, topic)`.
    fn subscription(msg: &Message) -> Option<(bool, &[u8])> {
        match msg.frames() {
            [frame] if frame.first() == Some(&1) => Some((true, &frame[1..])),
            [frame] if frame.first() == Some(&0) => Some((false, &frame[1..])),
            _ => None,
        }
    }
}

impl Default for XSub {
    fn default() -> Self {
        Self::new()
    }
}

impl private::Sealed for XSub {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Socket for XSub {
    const TYPE: SocketType = SocketType::XSub;

    fn with_options(options: Options) -> Result<Self, Error> {
        let role = Arc::new(Subscriber::default());
        let handle = Handle::new(SHAPE, role.clone(), options)?;
        Ok(XSub { handle, role })
    }
}

impl SendSocket for XSub {
    /// Sends a subscription message (`%x01` + topic) or a cancel (`%x00` +
    /// topic) to every publisher; any other message goes to every publisher
    /// as data (libzmq's XSUB does the same).
    fn send(&self, msg: impl Into<Message>) -> impl Future<Output = Result<(), Error>> + Send {
        let msg = msg.into();
        async move {
            let core = self.handle.core();
            match Self::subscription(&msg) {
                Some((subscribe, topic)) => self.role.change(core, topic, subscribe),
                None => core.distribute(msg, Filter::All).await,
            }
        }
    }

    /// [`XSub::send`] without waiting: a subscription change never waits; a
    /// message that would is handed back.
    fn try_send(&self, msg: impl Into<Message>) -> Result<(), TrySendError> {
        let msg = msg.into();
        let core = self.handle.core();
        match Self::subscription(&msg) {
            Some((subscribe, topic)) => self.role.change(core, topic, subscribe).map_err(|_| {
                TrySendError::OutOfTurn(msg.clone(), "no such subscription, or too many")
            }),
            None => core.try_distribute(msg, Filter::All),
        }
    }
}

impl RecvSocket for XSub {}
