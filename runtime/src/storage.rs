//! Non-volatile storage that survives a crash: where `Command::Save` goes.
//!
//! In the model, `Save` writes `ActorModelState::actor_storages[i]` and `Recover` passes it back to
//! `on_start`. Here a [`StorageCell`] plays that part: the harness creates one per node, hands a
//! clone to each incarnation's driver, and the cell keeps the last saved value across crashes.
//! It lives in memory; a file-backed cell is not implemented.

use std::sync::{Arc, Mutex, PoisonError};

/// A node's saved storage, shared by its successive incarnations.
#[derive(Debug)]
pub struct StorageCell<S>(Arc<Mutex<Option<S>>>);

impl<S> Clone for StorageCell<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S> Default for StorageCell<S> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(None)))
    }
}

impl<S: Clone> StorageCell<S> {
    /// A cell holding `initial` (`None`: the node has never saved anything).
    pub fn new(initial: Option<S>) -> Self {
        Self(Arc::new(Mutex::new(initial)))
    }

    /// The last saved value.
    pub fn load(&self) -> Option<S> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the saved value.
    pub fn store(&self, storage: S) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(storage);
    }
}
