//! Plugin-scoped key-value storage.

use async_trait::async_trait;

use super::{ThisStore, now_ms};
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
}
