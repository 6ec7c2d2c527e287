//! [`Supervisor`]: one node's life across incarnations — boot, halt, reboot, crash.
//!
//! A [`NodeDriver`] runs one incarnation. The supervisor is the machine it runs on: it owns the
//! node's socket and its [`DriverOptions`] (storage, counters, fault table, observer, …), and
//! starts a new driver with a clone of them (a new boot nonce, `on_start` with the saved
//! storage) whenever the node boots:
//!
//! * **Halt.** When the actor halts itself (the vmsc node took a CLUEXIT bugcheck; see
//!   [`CircuitEvents::is_halted`]), the driver has already gone silent, so peers see the circuit
//!   drop. The supervisor waits the boot delay and boots the node again, as an OpenVMS system
//!   with `AUTO_ACTION = RESTART` does after a bugcheck.
//! * **Crash** (on request): the running incarnation is dropped mid-flight — volatile state and
//!   queued datagrams are lost, saved storage survives — and the node stays down until a reboot.
//! * **Reboot** (on request): crash if running, then boot at once.
//! * **Shutdown**: stop the running incarnation cleanly and return.
//!
//! Requests arrive as [`Request`]s on a channel (see [`SupervisorHandle`]); the node's life is
//! published as a [`Life`] snapshot. No protocol decision is made here: when to halt is the
//! actor's, and the boot delay is configuration.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{de::DeserializeOwned, Serialize};
use stateright::actor::Actor;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::driver::{
    CircuitEvents, DriverConfig, DriverError, DriverReport, NodeDriver, StopReason,
};
use crate::node::{BootNonce, NodeIndex, Peers};
use crate::options::DriverOptions;
use crate::trace::TraceEvent;

/// Most requests queued for a supervisor; senders wait beyond that.
const REQUESTS_MAX: usize = 16;

/// What a supervisor can be asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Drop the running incarnation; stay down until a reboot.
    Crash,
    /// Crash if running, then boot a new incarnation now.
    Reboot,
    /// Stop the running incarnation cleanly and end the supervisor.
    Shutdown,
}

/// Where the node is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not booted yet.
    #[default]
    Starting,
    /// An incarnation is running.
    Running,
    /// The actor halted itself; a reboot follows after the boot delay.
    Halted,
    /// Crashed on request; down until a reboot request.
    Down,
    /// The supervisor ended.
    Stopped,
}

/// A snapshot of a node's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Life {
    /// The phase now.
    pub phase: Phase,
    /// Incarnations started.
    pub boots: u32,
    /// Times the actor halted itself.
    pub halts: u32,
    /// Crashes on request (a reboot of a running node counts as one).
    pub crashes: u32,
    /// The latest incarnation's boot nonce.
    pub nonce: BootNonce,
}

/// The requesting side of a running supervisor; clones share the supervisor.
#[derive(Clone, Debug)]
pub struct SupervisorHandle {
    requests: mpsc::Sender<(Request, oneshot::Sender<()>)>,
    life: Arc<Mutex<Life>>,
}

impl SupervisorHandle {
    /// Sends `request` and waits until the supervisor has acted on it. Returns false if the
    /// supervisor has ended.
    pub async fn request(&self, request: Request) -> bool {
        let (done_tx, done_rx) = oneshot::channel();
        if self.requests.send((request, done_tx)).await.is_err() {
            return false;
        }
        done_rx.await.is_ok()
    }

    /// The node's life now.
    pub fn life(&self) -> Life {
        *self.life.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything one node keeps across incarnations (see the module doc).
pub struct Supervisor<A: Actor> {
    actor: A,
    me: NodeIndex,
    socket: Arc<UdpSocket>,
    peers: Peers,
    config: DriverConfig,
    options: DriverOptions<A>,
    boot_delay: Duration,
    life: Arc<Mutex<Life>>,
    requests: mpsc::Receiver<(Request, oneshot::Sender<()>)>,
}

type Run<A> = Pin<Box<dyn Future<Output = DriverReport<A>> + Send>>;

/// What the supervisor does after an incarnation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Boot,
    Down,
    Halted,
    Stop,
}

impl<A> Supervisor<A>
where
    A: CircuitEvents + Clone + Send + Sync + 'static,
    A::Msg: Serialize + DeserializeOwned + Send,
    A::State: Send,
    A::Timer: Send,
    A::Storage: Clone + Send,
{
    /// A supervisor for node `me` on `socket`, with [`DriverOptions::new`] (no faults, no
    /// latency, no trace, empty storage, fresh counters) and the given boot delay; and the
    /// handle that steers it.
    pub fn new(
        actor: A,
        me: NodeIndex,
        socket: Arc<UdpSocket>,
        peers: Peers,
        config: DriverConfig,
        boot_delay: Duration,
    ) -> (Self, SupervisorHandle) {
        let (tx, rx) = mpsc::channel(REQUESTS_MAX);
        let life = Arc::new(Mutex::new(Life::default()));
        let supervisor = Self {
            actor,
            me,
            socket,
            peers,
            config,
            options: DriverOptions::new(),
            boot_delay,
            life: Arc::clone(&life),
            requests: rx,
        };
        (supervisor, SupervisorHandle { requests: tx, life })
    }

    /// Hands a clone of `options` to every incarnation, replacing the defaults of
    /// [`Supervisor::new`]: all incarnations share its fault table, trace, observer, local
    /// inbox, storage and counters.
    pub fn with_options(mut self, options: DriverOptions<A>) -> Self {
        self.options = options;
        self
    }

    /// Runs the node until a [`Request::Shutdown`] (or until every handle is dropped).
    ///
    /// # Errors
    ///
    /// [`DriverError`] if a driver cannot be built (checked at the first boot: the socket, the
    /// table and the config do not change afterwards).
    pub async fn run(mut self) -> Result<(), DriverError> {
        loop {
            let driver = self.driver()?;
            let nonce = driver.nonce();
            self.update(|life| {
                life.phase = Phase::Running;
                life.boots += 1;
                life.nonce = nonce;
            });
            let mut next = self.run_incarnation(driver).await;
            if next == Next::Halted {
                next = self.halted().await;
            }
            if next == Next::Down {
                next = self.down().await;
            }
            if next == Next::Stop {
                self.update(|life| life.phase = Phase::Stopped);
                return Ok(());
            }
        }
    }

    fn driver(&self) -> Result<NodeDriver<A>, DriverError> {
        let driver = NodeDriver::new(
            self.actor.clone(),
            self.me,
            Arc::clone(&self.socket),
            self.peers.clone(),
            self.config.clone(),
        )?;
        Ok(driver.with_options(self.options.clone()))
    }

    /// Runs one incarnation until it halts or a request ends it.
    async fn run_incarnation(&mut self, driver: NodeDriver<A>) -> Next {
        let nonce = driver.nonce();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let mut run: Run<A> = Box::pin(driver.run(async move {
            let _ = stop_rx.await;
        }));
        tokio::select! {
            report = &mut run => match report.reason {
                StopReason::Halted => Next::Halted,
                StopReason::Shutdown => Next::Stop,
            },
            request = self.requests.recv() => match request {
                None => {
                    let _ = stop_tx.send(());
                    run.await;
                    Next::Stop
                }
                Some((Request::Shutdown, done)) => {
                    let _ = stop_tx.send(());
                    run.await;
                    let _ = done.send(());
                    Next::Stop
                }
                Some((request @ (Request::Crash | Request::Reboot), done)) => {
                    // Dropping the future is the crash: nothing of it runs again.
                    drop(run);
                    self.trace_crash(nonce);
                    self.update(|life| {
                        life.crashes += 1;
                        life.phase = Phase::Down;
                    });
                    let _ = done.send(());
                    if request == Request::Reboot {
                        Next::Boot
                    } else {
                        Next::Down
                    }
                }
            },
        }
    }

    /// The actor halted: wait the boot delay (requests may cut it short), then boot.
    async fn halted(&mut self) -> Next {
        self.update(|life| {
            life.halts += 1;
            life.phase = Phase::Halted;
        });
        let reboot_at = tokio::time::Instant::now() + self.boot_delay;
        tokio::select! {
            () = tokio::time::sleep_until(reboot_at) => Next::Boot,
            request = self.requests.recv() => match request {
                None => Next::Stop,
                Some((request, done)) => {
                    let next = match request {
                        Request::Shutdown => Next::Stop,
                        Request::Reboot => Next::Boot,
                        Request::Crash => {
                            self.update(|life| {
                                life.crashes += 1;
                                life.phase = Phase::Down;
                            });
                            Next::Down
                        }
                    };
                    let _ = done.send(());
                    next
                }
            },
        }
    }

    /// Crashed: stay down until a reboot or a shutdown request.
    async fn down(&mut self) -> Next {
        self.update(|life| life.phase = Phase::Down);
        loop {
            match self.requests.recv().await {
                None => return Next::Stop,
                Some((request, done)) => {
                    let _ = done.send(());
                    match request {
                        Request::Crash => {}
                        Request::Reboot => return Next::Boot,
                        Request::Shutdown => return Next::Stop,
                    }
                }
            }
        }
    }

    fn trace_crash(&self, nonce: BootNonce) {
        if let Some(tracer) = &self.options.tracer {
            let _ = tracer.emit(Instant::now(), self.me, nonce, TraceEvent::Crash);
        }
    }

    fn update(&self, f: impl FnOnce(&mut Life)) {
        f(&mut self.life.lock().unwrap_or_else(PoisonError::into_inner));
    }
}
