//! The store's own threads. The server logic asks for store work as [`Job`]s and gets [`Done`]s back;
//! jobs run here, on threads that do nothing else, so a slow or locked database never holds up a
//! network thread or the server's shared state.
//!
//! Writes run one at a time on one thread, in the order they were asked for, so their effects (and
//! list versions) follow the order of the commands. Reads run on their own threads beside it: in WAL
//! mode a reader is never blocked by a writer, so signing in keeps working while another process holds
//! the database's write lock.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::store::{Account, AdminEvent, Change, Result, Store, StoreError, Versions};

/// Work for the store.
pub enum Job {
    /// Checks a sign-in: the account, if `response` answers `challenge` with its password. `ordered`: in
    /// line with the writes (after every write asked for before it), so no write can race it.
    SignIn { handle: String, challenge: String, response: String, ordered: bool },
    /// An account's current state.
    Account { handle: String },
    /// Changes, applied in one transaction.
    Write { changes: Vec<Change> },
    /// Administrators' changes after event `after`.
    AdminEvents { after: i64 },
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The MD5 response never appears in logs.
            Job::SignIn { handle, .. } => f.debug_struct("SignIn").field("handle", handle).finish_non_exhaustive(),
            Job::Account { handle } => f.debug_struct("Account").field("handle", handle).finish(),
            Job::Write { changes } => f.debug_struct("Write").field("changes", changes).finish(),
            Job::AdminEvents { after } => f.debug_struct("AdminEvents").field("after", after).finish(),
        }
    }
}

/// A job's result.
#[derive(Debug)]
pub enum Done {
    SignIn(Result<Option<Account>>),
    Account(Result<Option<Account>>),
    Written(Result<Versions>),
    AdminEvents(Result<(i64, Vec<AdminEvent>)>),
    /// From the cluster's bus: a sign-in's revision in the registry.
    Registered(std::result::Result<u64, String>),
    /// From the cluster's bus: whom another node rang (`None`: nobody).
    Rang(Option<(String, String)>),
}

impl Job {
    /// Does the job on `store` (what a store thread does; tests call it directly).
    pub fn run(self, store: &mut dyn Store) -> Done {
        match self {
            Job::SignIn { handle, challenge, response, .. } => {
                Done::SignIn(store.sign_in(&handle, &challenge, &response))
            }
            Job::Account { handle } => Done::Account(store.account(&handle)),
            Job::Write { changes } => Done::Written(store.apply(&changes)),
            Job::AdminEvents { after } => Done::AdminEvents(store.admin_events(after)),
        }
    }
}

type Reply = Box<dyn FnOnce(Done) + Send>;
type Queue = mpsc::Sender<(Job, Reply)>;

/// The store threads: one writer and some readers, each with its own database connection. They end
/// when every clone of the `Worker` is dropped.
#[derive(Clone, Debug)]
pub struct Worker {
    reads: Queue,
    writes: Queue,
}

impl Worker {
    /// Starts one writer and `readers` readers; `open` makes each one's store (its own connection).
    pub fn start(readers: usize, open: impl Fn() -> Result<Box<dyn Store>>) -> Result<Worker> {
        let (writes, write_jobs) = mpsc::channel();
        spawn("msnp-store-write", open()?, Arc::new(Mutex::new(write_jobs)))?;
        let (reads, read_jobs) = mpsc::channel();
        let read_jobs = Arc::new(Mutex::new(read_jobs));
        for _ in 0..readers.max(1) {
            spawn("msnp-store-read", open()?, Arc::clone(&read_jobs))?;
        }
        Ok(Worker { reads, writes })
    }

    /// Runs `job` on a store thread, then `reply` with its result (on that thread).
    pub fn submit(&self, job: Job, reply: impl FnOnce(Done) + Send + 'static) {
        let ordered = matches!(job, Job::Write { .. } | Job::SignIn { ordered: true, .. });
        let queue = if ordered { &self.writes } else { &self.reads };
        // The threads outlive every sender; if one has died, its panic was reported and the job is lost.
        let _ = queue.send((job, Box::new(reply)));
    }
}

fn spawn(name: &str, mut store: Box<dyn Store>, jobs: Arc<Mutex<mpsc::Receiver<(Job, Reply)>>>) -> Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            loop {
                let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((job, reply)) = next else { return };
                reply(job.run(store.as_mut()));
            }
        })
        .map_err(StoreError::Thread)?;
    Ok(())
}
