//! Plugins' key-value storage in the database (table `plugin_kv`), surviving restarts and shared by
//! every node.

use std::sync::Arc;

use switchboard_plugin_host::KvBackend;

/// The `kv` host interface backed by the store.
pub struct StoreKv(pub Arc<dyn crate::store::Store>);

#[async_trait::async_trait]
impl KvBackend for StoreKv {
    async fn get(&self, scope: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.kv_get(scope, key).await.map_err(|e| e.to_string())
    }
    async fn set(&self, scope: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.kv_set(scope, key, value).await.map_err(|e| e.to_string())
    }
    async fn delete(&self, scope: &str, key: &str) -> Result<(), String> {
        self.0.kv_delete(scope, key).await.map_err(|e| e.to_string())
    }
}
