-- A tenant's connector instances (the tenant file's connectors: section):
-- type and plain settings only. Their secrets live in the secrets table,
-- sealed with the key ring, named connector/NAME/FIELD.
-- outbound_allow is the tenant's outbound allow-list (outbound: allow:):
-- addresses and hosts its connectors may reach beyond public https.

-- +goose Up
CREATE TABLE connectors (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE outbound_allow (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    entries    TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE outbound_allow;
DROP TABLE connectors;
