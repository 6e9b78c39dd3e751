-- Plugins an owner switched off (or back on) through the API, for the whole server. A plugin the
-- configuration disables stays off whatever this says.
CREATE TABLE plugin_switches (
    plugin_id TEXT PRIMARY KEY,
    enabled BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT
);
