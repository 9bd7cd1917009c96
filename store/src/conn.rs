//! What the aggregates' statements run on: the connection of a transaction guard, and how a
//! write guard ends. Each backend implements these for its guards; every aggregate's reads are
//! then implemented for any guard, its writes for the write guards.

use crate::sql::Db;
use crate::{Result, WriteTx};

/// Access to the connection of a transaction guard.
pub(crate) trait Conn {
    fn db(&self) -> &dyn Db;

    /// Where the feed's positions come from. `None`: drawn as rows are inserted (SQLite: one
    /// writer, so positions commit in order). `Some(first)`: the transaction reserves `k`
    /// ordinals from `first` on, turned into positions by `fieldline_feed_position`
    /// (PostgreSQL: from the transaction's id, see the migration `0006_feed_positions.sql`).
    fn feed_ordinals(&self, _k: usize) -> Result<Option<i64>> {
        Ok(None)
    }

    /// Tests only: the feed's horizon ignores transactions still running (the rule broken).
    fn unsafe_horizon(&self) -> bool {
        false
    }

    /// Where commits become visible before they are durable (SQLite's group commit): the
    /// position before the oldest commit of this store not yet flushed, beyond which the feed is
    /// not served. `None`: nothing holds the feed back.
    fn durable_seq(&self) -> Option<i64> {
        None
    }

    /// Notes that the transaction is about to add to the feed: from here to its end it holds a
    /// lock other writers may wait for (SQLite's one writer; PostgreSQL: the job's row).
    fn fed(&self) {}
}

/// How a write guard ends.
pub(crate) trait Finish {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>>;
    fn commit(self: Box<Self>) -> Result<()>;
}
