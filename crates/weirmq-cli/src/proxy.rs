//! `weirmq proxy`: a proxy between two sockets (libzmq's `zmq_proxy`),
//! with an optional capture socket and control socket, each given as
//! `TYPE:ENDPOINT`. An endpoint is bound, or connected to with a `>` in
//! front (`dealer:>tcp://10.0.0.5:5556`), as czmq writes it; `@` in front
//! binds explicitly.

use clap::Args;
use weirmq::metrics::Metrics;
use weirmq::{
    Dealer, Error, Options, Pair, Proxy, Pub, Pull, Push, Rep, Router, Socket, Sub, XPub, XSub,
};

#[derive(Args)]
pub(crate) struct ProxyArgs {
    /// The frontend: TYPE:ENDPOINT, TYPE one of router, dealer, xsub, xpub,
    /// pair, pull, sub.
    #[arg(long)]
    frontend: String,
    /// The backend: TYPE:ENDPOINT, TYPE one of router, dealer, xsub, xpub,
    /// pair, push, pub.
    #[arg(long)]
    backend: String,
    /// A socket that gets a copy of every message: pub, push or pair.
    #[arg(long)]
    capture: Option<String>,
    /// A socket that takes PAUSE, RESUME, TERMINATE and STATISTICS: rep,
    /// pair, sub or pull.
    #[arg(long)]
    control: Option<String>,
    /// Serve the proxy's and its sockets' metrics for Prometheus at
    /// http://ADDR/metrics (ADDR: HOST:PORT, e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    /// High-water mark of every socket: most messages queued per peer.
    #[arg(long, default_value_t = 1000)]
    hwm: usize,
}

impl ProxyArgs {
    /// The high-water mark asked for.
    pub(crate) fn hwm(&self) -> usize {
        self.hwm
    }
}

/// A socket the proxy command opened.
enum Opened {
    Router(Router),
    Dealer(Dealer),
    XSub(XSub),
    XPub(XPub),
    Pair(Pair),
    Pull(Pull),
    Push(Push),
    Sub(Sub),
    Pub(Pub),
    Rep(Rep),
}

impl Opened {
    /// Exports this socket's metrics as `name`.
    fn export(&self, metrics: &Metrics, name: &str) {
        match self {
            Opened::Router(s) => metrics.add(name, s),
            Opened::Dealer(s) => metrics.add(name, s),
            Opened::XSub(s) => metrics.add(name, s),
            Opened::XPub(s) => metrics.add(name, s),
            Opened::Pair(s) => metrics.add(name, s),
            Opened::Pull(s) => metrics.add(name, s),
            Opened::Push(s) => metrics.add(name, s),
            Opened::Sub(s) => metrics.add(name, s),
            Opened::Pub(s) => metrics.add(name, s),
            Opened::Rep(s) => metrics.add(name, s),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Opened::Router(_) => "router",
            Opened::Dealer(_) => "dealer",
            Opened::XSub(_) => "xsub",
            Opened::XPub(_) => "xpub",
            Opened::Pair(_) => "pair",
            Opened::Pull(_) => "pull",
            Opened::Push(_) => "push",
            Opened::Sub(_) => "sub",
            Opened::Pub(_) => "pub",
            Opened::Rep(_) => "rep",
        }
    }
}

/// Opens, then binds or connects, the socket `spec` (TYPE:ENDPOINT) names.
async fn open(spec: &str, options: &Options) -> Result<Opened, Error> {
    let bad = |reason: &str| Error::InvalidOption(format!("{spec}: {reason}"));
    let (kind, endpoint) = spec
        .split_once(':')
        .ok_or_else(|| bad("expected TYPE:ENDPOINT, e.g. router:tcp://127.0.0.1:5555"))?;
    let o = || options.clone();
    let opened = match kind.to_ascii_lowercase().as_str() {
        "router" => Opened::Router(Router::with_options(o())?),
        "dealer" => Opened::Dealer(Dealer::with_options(o())?),
        "xsub" => Opened::XSub(XSub::with_options(o())?),
        "xpub" => Opened::XPub(XPub::with_options(o())?),
        "pair" => Opened::Pair(Pair::with_options(o())?),
        "pull" => Opened::Pull(Pull::with_options(o())?),
        "push" => Opened::Push(Push::with_options(o())?),
        "sub" => {
            let sub = Sub::with_options(o())?;
            sub.subscribe("")?;
            Opened::Sub(sub)
        }
        "pub" => Opened::Pub(Pub::with_options(o())?),
        "rep" => Opened::Rep(Rep::with_options(o())?),
        _ => return Err(bad("unknown socket type")),
    };
    match &opened {
        Opened::Router(s) => attach(s, endpoint).await?,
        Opened::Dealer(s) => attach(s, endpoint).await?,
        Opened::XSub(s) => attach(s, endpoint).await?,
        Opened::XPub(s) => attach(s, endpoint).await?,
        Opened::Pair(s) => attach(s, endpoint).await?,
        Opened::Pull(s) => attach(s, endpoint).await?,
        Opened::Push(s) => attach(s, endpoint).await?,
        Opened::Sub(s) => attach(s, endpoint).await?,
        Opened::Pub(s) => attach(s, endpoint).await?,
        Opened::Rep(s) => attach(s, endpoint).await?,
    }
    Ok(opened)
}

/// Binds to `endpoint`, or connects to it when it starts with `>`.
async fn attach<S: Socket>(s: &S, endpoint: &str) -> Result<(), Error> {
    match endpoint.strip_prefix('>') {
        Some(target) => s.connect(target).await,
        None => {
            let at = s
                .bind(endpoint.strip_prefix('@').unwrap_or(endpoint))
                .await?;
            eprintln!("bound {at}");
            Ok(())
        }
    }
}

/// Runs the proxy the arguments describe, until TERMINATE or a failure.
pub(crate) async fn proxy(args: ProxyArgs, options: Options) -> Result<(), Error> {
    let front = open(&args.frontend, &options).await?;
    let back = open(&args.backend, &options).await?;
    let capture = match &args.capture {
        Some(spec) => Some(open(spec, &options).await?),
        None => None,
    };
    let control = match &args.control {
        Some(spec) => Some(open(spec, &options).await?),
        None => None,
    };
    let metrics = match args.metrics {
        Some(addr) => Some(serve_metrics(addr, &front, &back).await?),
        None => None,
    };
    let aside = Aside {
        capture: capture.as_ref(),
        control: control.as_ref(),
        metrics,
    };
    // The pairs a proxy makes sense between: both ways, then one way.
    match (&front, &back) {
        (Opened::Router(f), Opened::Dealer(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::Dealer(f), Opened::Router(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::Router(f), Opened::Router(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::Dealer(f), Opened::Dealer(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::XSub(f), Opened::XPub(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::XPub(f), Opened::XSub(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::Pair(f), Opened::Pair(b)) => aside.add(Proxy::new(f, b))?.run().await,
        (Opened::Pull(f), Opened::Push(b)) => aside.add(Proxy::new(f, b))?.run_one_way().await,
        (Opened::Sub(f), Opened::Pub(b)) => aside.add(Proxy::new(f, b))?.run_one_way().await,
        (Opened::Pull(f), Opened::Pub(b)) => aside.add(Proxy::new(f, b))?.run_one_way().await,
        (Opened::Sub(f), Opened::Push(b)) => aside.add(Proxy::new(f, b))?.run_one_way().await,
        (f, b) => Err(Error::InvalidOption(format!(
            "no proxy between a {} frontend and a {} backend (router/dealer, xsub/xpub, \
             pair/pair both ways; pull or sub to push or pub one way)",
            f.name(),
            b.name()
        ))),
    }
}

/// Starts serving the metrics of the proxy's two sockets at `addr`; the
/// proxy's own counters join them when it is made.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    front: &Opened,
    back: &Opened,
) -> Result<Metrics, Error> {
    let metrics = Metrics::new();
    front.export(&metrics, "frontend");
    back.export(&metrics, "backend");
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Io {
            context: format!("--metrics {addr}"),
            source: e,
        })?;
    eprintln!(
        "metrics at http://{}/metrics",
        listener.local_addr().unwrap_or(addr)
    );
    tokio::spawn(weirmq::metrics::serve(listener, metrics.clone()));
    Ok(metrics)
}

/// The capture and control sockets, if any, and the metrics the proxy's
/// counters go to.
struct Aside<'a> {
    capture: Option<&'a Opened>,
    control: Option<&'a Opened>,
    metrics: Option<Metrics>,
}

impl<'a> Aside<'a> {
    /// `proxy` with the capture and control sockets added.
    fn add<F: Socket, B: Socket>(&self, proxy: Proxy<'a, F, B>) -> Result<Proxy<'a, F, B>, Error> {
        if let Some(metrics) = &self.metrics {
            metrics.add_proxy("proxy", proxy.counters());
        }
        let proxy = match self.capture {
            None => proxy,
            Some(Opened::Pub(c)) => proxy.capture(c),
            Some(Opened::Push(c)) => proxy.capture(c),
            Some(Opened::Pair(c)) => proxy.capture(c),
            Some(other) => return Err(not_for("capture", other, "pub, push or pair")),
        };
        Ok(match self.control {
            None => proxy,
            Some(Opened::Rep(c)) => proxy.control(c),
            Some(Opened::Pair(c)) => proxy.control(c),
            Some(Opened::Sub(c)) => proxy.control_listening(c),
            Some(Opened::Pull(c)) => proxy.control_listening(c),
            Some(other) => return Err(not_for("control", other, "rep, pair, sub or pull")),
        })
    }
}

fn not_for(role: &str, socket: &Opened, types: &str) -> Error {
    Error::InvalidOption(format!(
        "a {} socket cannot be the {role} socket ({types})",
        socket.name()
    ))
}
