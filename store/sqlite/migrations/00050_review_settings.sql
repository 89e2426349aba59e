-- A tenant's access-review reminder timing (the tenant file's reviews:
-- section): reminder days before the due date (a JSON list of integers)
-- and the grace period before escalation, in nanoseconds.

-- +goose Up
CREATE TABLE review_settings (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    remind_days TEXT NOT NULL DEFAULT '[]',
    grace_ns    BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- +goose Down
DROP TABLE review_settings;
