-- A running slot overtaken by a later slot of its job is closed as
-- 'skipped' by the scheduler's housekeeping. SQLite cannot alter a CHECK
-- constraint, so the table is rebuilt (nothing references it).

-- +goose Up
CREATE TABLE schedule_slots_new (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job         TEXT NOT NULL,
    slot_at     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'skipped')),
    owner       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    finished_at TEXT,
    last_error  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, job, slot_at)
);
INSERT INTO schedule_slots_new SELECT tenant_id, job, slot_at, status, owner, attempts, claimed_at, lease_until, finished_at, last_error
    FROM schedule_slots;
DROP TABLE schedule_slots;
ALTER TABLE schedule_slots_new RENAME TO schedule_slots;

-- +goose Down
CREATE TABLE schedule_slots_old (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job         TEXT NOT NULL,
    slot_at     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    owner       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    finished_at TEXT,
    last_error  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, job, slot_at)
);
INSERT INTO schedule_slots_old SELECT tenant_id, job, slot_at,
    CASE status WHEN 'skipped' THEN 'failed' ELSE status END, owner, attempts, claimed_at, lease_until, finished_at, last_error
    FROM schedule_slots;
DROP TABLE schedule_slots;
ALTER TABLE schedule_slots_old RENAME TO schedule_slots;
