-- One row per application with a connector (azuread, scim): where its last
-- sync left off and how it went. cursor is the connector's opaque resume
-- state (Graph delta links); it only moves when a sync's snapshot was
-- written, so a refused or failed import re-reads the same changes.

-- +goose Up
CREATE TABLE connector_syncs (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    app_id       TEXT NOT NULL,
    connector    TEXT NOT NULL,
    cursor       TEXT NOT NULL DEFAULT '',
    last_full_at TEXT,
    last_run_at  TEXT,
    last_ok_at   TEXT,
    last_error   TEXT NOT NULL DEFAULT '',
    summary      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, app_id),
    FOREIGN KEY (tenant_id, app_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE connector_syncs;
