-- Reconcile after a connector sync (issue 12): the finished deprovisioning
-- flows of one application, read on every sync to find revocations the
-- directory did not apply.

-- +goose Up
CREATE INDEX action_flows_app_direction ON action_flows (tenant_id, app_id, direction, status);

-- +goose Down
DROP INDEX action_flows_app_direction;
