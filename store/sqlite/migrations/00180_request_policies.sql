-- Request policies (issue 16): a tenant's channel routes, who may request
-- for whom, and its risk settings, from the tenant file, as one JSON
-- document (accessbot.RequestPolicy).

-- +goose Up
CREATE TABLE request_policies (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    policy     TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE request_policies;
