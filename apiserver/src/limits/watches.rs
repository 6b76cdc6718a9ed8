//! Concurrent watches per user.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts each user's open watches; users with none take no memory.
pub struct WatchCounter {
    max_per_user: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open watch; closing it (dropping the guard) frees the slot.
pub struct WatchSlot {
    user: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl WatchCounter {
    /// At most `max_per_user` watches per user at once.
    pub fn new(max_per_user: usize) -> WatchCounter {
        WatchCounter {
            max_per_user,
            open: Arc::default(),
        }
    }

    /// Open a watch for `user`, unless they already hold the most allowed.
    pub fn open(&self, user: &str) -> Option<WatchSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(user.to_string()).or_default();
        if *count >= self.max_per_user {
            if *count == 0 {
                open.remove(user);
            }
            return None;
        }
        *count += 1;
        Some(WatchSlot {
            user: user.to_string(),
            open: self.open.clone(),
        })
    }

    /// Watches `user` holds open.
    pub fn open_for(&self, user: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(user).copied().unwrap_or(0)
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_the_limit_and_closing_frees_a_slot() {
        let watches = WatchCounter::new(2);
        let a1 = watches.open("alice").expect("first");
        let _a2 = watches.open("alice").expect("second");
        assert!(watches.open("alice").is_none(), "third is refused");
        let _b = watches.open("bob").expect("bob has his own count");
        drop(a1);
        assert_eq!(watches.open_for("alice"), 1);
        assert!(watches.open("alice").is_some());
    }

    #[test]
    fn users_without_watches_take_no_memory() {
        let watches = WatchCounter::new(1);
        drop(watches.open("carol").unwrap());
        assert!(watches.open.lock().unwrap().is_empty());
        let none = WatchCounter::new(0);
        assert!(none.open("dave").is_none());
        assert!(none.open.lock().unwrap().is_empty());
    }
}
