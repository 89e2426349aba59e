-- Grants that end (issue 11): when an entitlement's deprovisioning flow
-- started (ending_flow_id, ending_at), and the short claim a replica holds
-- while it starts it (end_claim_until), so of several replicas sweeping
-- expired grants exactly one starts each. grant_settings holds a tenant's
-- expiry notices (the tenant file's grants: section): offsets before the
-- end, as a JSON list of nanoseconds.

-- +goose Up
ALTER TABLE entitlements ADD COLUMN ending_flow_id TEXT;
ALTER TABLE entitlements ADD COLUMN ending_at TEXT;
ALTER TABLE entitlements ADD COLUMN end_claim_until TEXT;
CREATE INDEX entitlements_connection ON entitlements (tenant_id, connection_id);

CREATE TABLE grant_settings (
    tenant_id      TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    expiry_notices TEXT NOT NULL DEFAULT '[]',
    updated_at     TEXT NOT NULL
);

-- +goose Down
DROP TABLE grant_settings;
DROP INDEX entitlements_connection;
ALTER TABLE entitlements DROP COLUMN end_claim_until;
ALTER TABLE entitlements DROP COLUMN ending_at;
ALTER TABLE entitlements DROP COLUMN ending_flow_id;
