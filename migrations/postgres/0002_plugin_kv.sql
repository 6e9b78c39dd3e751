-- Plugin-scoped key-value storage behind the `kv` host interface. Plugin state, not domain state: changes
-- here are not events.
CREATE TABLE plugin_kv (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
