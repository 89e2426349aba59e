-- A running slot overtaken by a later slot of its job is closed as
-- 'skipped' by the scheduler's housekeeping.

-- +goose Up
ALTER TABLE schedule_slots DROP CONSTRAINT schedule_slots_status_check;
ALTER TABLE schedule_slots ADD CONSTRAINT schedule_slots_status_check
    CHECK (status IN ('running', 'done', 'failed', 'skipped'));

-- +goose Down
UPDATE schedule_slots SET status = 'failed' WHERE status = 'skipped';
ALTER TABLE schedule_slots DROP CONSTRAINT schedule_slots_status_check;
ALTER TABLE schedule_slots ADD CONSTRAINT schedule_slots_status_check
    CHECK (status IN ('running', 'done', 'failed'));
