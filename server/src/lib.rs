//! The `signalscope` binary's library: five programs sharing one crate.
//!
//! * [`sim`]: a stand-in Conduit instance. A SignalR server (JSON hub
//!   protocol over WebSockets) for `NavigationStateHub`, scaled out through
//!   the Redis backplane exactly as ASP.NET Core does it.
//! * [`companion`]: `signalscope serve`. Hosts the dashboard, triggers test
//!   broadcasts, relays a filtered Redis MONITOR feed over SSE and reports
//!   the health of Redis and of every instance.
//! * [`load`]: `signalscope load` (and `agent`): many real connections, a
//!   paced sender, and latency, loss and reconnects measured honestly.
//! * [`check`]: `signalscope check`: the guide's Success Criteria, judged.
//! * [`canary`]: the always-on canary (`serve --canary`, `signalscope
//!   canary`), exported with Redis's and the instances' health by
//!   [`metrics`] on `/metrics`.
//! * [`demo`]: `signalscope demo`. Starts Redis, three stand-ins and the
//!   companion as children, and stops them all on Ctrl-C.
//!
//! Shared pieces: [`deployment`] reads where the system under test is
//! (for serve, load and check alike); [`children`] starts, awaits and stops child processes;
//! [`redis_link`] is a shared, self-healing Redis command connection;
//! [`reconnect`] the opening, naming, loss-telling and back-off that it,
//! the feed relays and the stand-in's backplane share; [`locks`] std locks
//! that survive poisoning; [`clock`] Unix wall-clock time;
//! [`redis_target`] reads Redis addresses in URL or
//! StackExchange.Redis form; [`shutdown`] turns Ctrl-C and SIGTERM into
//! one future. The wire formats all live in the `protocol` crate.

pub mod canary;
pub mod check;
pub mod children;
pub mod clock;
pub mod companion;
pub mod demo;
pub mod deployment;
pub mod load;
pub mod locks;
pub mod metrics;
pub mod reconnect;
pub mod redis_link;
pub mod redis_target;
pub mod settings;
pub mod shutdown;
pub mod sim;
