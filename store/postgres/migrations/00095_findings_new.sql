-- +goose Up
-- The digest's reads (store.Findings.NewFindings): per severity, the open
-- findings of a window of opened_at, newest first; counts from the index alone.
CREATE INDEX findings_new ON findings (tenant_id, status, severity, opened_at DESC, id);
DROP INDEX findings_status;

-- +goose Down
CREATE INDEX findings_status ON findings (tenant_id, status, opened_at);
DROP INDEX findings_new;
