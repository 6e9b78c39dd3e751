//! Plugin-scoped key-value storage, and the server-wide switches owners set on plugins.

use async_trait::async_trait;

use super::{ThisStore, now_ms};
use crate::model::Id;
use crate::store::{PluginKvStore, StoreResult};

#[async_trait]
impl PluginKvStore for ThisStore {
    async fn kv_get(&self, scope: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar("SELECT value FROM plugin_kv WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn kv_set(&self, scope: &str, key: &str, value: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO plugin_kv (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(scope)
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn kv_delete(&self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM plugin_kv WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn plugin_switches(&self) -> StoreResult<Vec<(String, bool)>> {
        Ok(sqlx::query_as("SELECT plugin_id, enabled FROM plugin_switches ORDER BY plugin_id")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn set_plugin_switch(&self, plugin: &str, enabled: bool, by: Id) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO plugin_switches (plugin_id, enabled, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (plugin_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(plugin)
        .bind(enabled)
        .bind(now_ms())
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
