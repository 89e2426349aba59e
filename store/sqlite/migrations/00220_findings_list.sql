-- +goose Up
-- findings list (store.Findings.ListFindings): per severity, newest first,
-- whatever the statuses asked for, so a limited list reads only its rows
-- instead of sorting every finding of the tenant.
CREATE INDEX findings_list ON findings (tenant_id, severity, opened_at DESC, id);

-- +goose Down
DROP INDEX findings_list;
