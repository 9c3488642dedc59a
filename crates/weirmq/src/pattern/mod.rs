//! Sans-IO routing strategies, the pieces socket types are composed of (as
//! libzmq composes its `lb_t`, `fq_t` and `dist_t`): no tokio, no locks, no
//! clock; each unit-tested in place.

pub(crate) mod dist;
pub(crate) mod envelope;
pub(crate) mod fq;
pub(crate) mod lb;
pub(crate) mod manual;
pub(crate) mod route;
pub(crate) mod subscriptions;
