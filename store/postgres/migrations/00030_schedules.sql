-- Schedules, slot claims, alert settings and the delivery outbox.
-- A slot is claimed by inserting its unique row; a delivery likewise.

-- +goose Up
CREATE TABLE schedules (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job        TEXT NOT NULL,
    cron       TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    since      TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, job)
);

CREATE TABLE schedule_slots (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job         TEXT NOT NULL,
    slot_at     TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    owner       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    claimed_at  TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    last_error  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, job, slot_at)
);

CREATE TABLE alert_settings (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    channels   TEXT NOT NULL DEFAULT '[]',
    all_clear  INTEGER NOT NULL DEFAULT 1,
    since      TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE deliveries (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    dkey        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('claimed', 'sent')),
    channel_id  TEXT NOT NULL DEFAULT '',
    ts          TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, dkey)
);

-- +goose Down
DROP TABLE deliveries;
DROP TABLE alert_settings;
DROP TABLE schedule_slots;
DROP TABLE schedules;
