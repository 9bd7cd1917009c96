//! The storage crate ([`fieldline_store`]) as the server uses it, and opening the store the
//! configuration names.

pub use fieldline_store::*;

use crate::config::Config;
use std::sync::Arc;

/// Opens the store `config` names: `database_url` `postgres://…` (or `postgresql://…`),
/// `sqlite://PATH` (a directory or a `.db` file), or, when empty, SQLite under `data_dir`.
pub fn open(config: &Config) -> Result<Arc<dyn ServerStore>> {
    open_as(config, Schema::Create)
}

/// Opens the store `config` names, creating or upgrading its schema only as `schema` allows.
pub fn open_as(config: &Config, schema: Schema) -> Result<Arc<dyn ServerStore>> {
    open_url(
        &config.database_url,
        &config.data_dir,
        config.database_pool,
        schema,
    )
}
