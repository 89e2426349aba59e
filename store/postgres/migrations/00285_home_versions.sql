-- +goose Up
-- home_versions: a counter per tenant that every committed write to a table
-- the Home tab can show moves forward, kept by triggers so no write path can
-- forget it. A published Home carries the version it was rendered at
-- (handlers/home_memo.go); an app_home_opened whose view carries the
-- current version needs no render. Tables never shown on a Home (audit_log,
-- message_refs, deliveries, schedule_slots, slack_ids, step_ups, secrets,
-- findings, findings_tokens, inv_*) have no trigger; the conformance test
-- HomeVersion fails for a table with tenant_id that is in neither list.
-- Migration 00300 splits the counter: everyone's, the admins', each user's.
CREATE TABLE home_versions (
    tenant_id TEXT PRIMARY KEY,
    version   BIGINT NOT NULL
);
-- The triggers are deferred to commit, so the counter row is locked only
-- while a transaction commits, not for its whole length; and a transaction
-- moves a tenant's counter once (accessbot.home_bumped, transaction-local),
-- not once per row: updating one row many times in one transaction leaves
-- a chain of dead versions that makes every further update slower.
-- +goose StatementBegin
CREATE FUNCTION home_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE t TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN t := OLD.tenant_id; ELSE t := NEW.tenant_id; END IF;
    IF current_setting('accessbot.home_bumped', true) IS NOT DISTINCT FROM t THEN
        RETURN NULL;
    END IF;
    INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    PERFORM set_config('accessbot.home_bumped', t, true);
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION home_bump_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE t TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN t := OLD.id; ELSE t := NEW.id; END IF;
    IF current_setting('accessbot.home_bumped', true) IS NOT DISTINCT FROM t THEN
        RETURN NULL;
    END IF;
    INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    PERFORM set_config('accessbot.home_bumped', t, true);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON access_requests DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flow_scripts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flows DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON alert_settings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON applications DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON approval_chains DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connection_assignments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connections DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connector_syncs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connectors DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON decisions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON entitlements DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON grant_settings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON import_settings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON outbound_allow DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON playbook_runs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON playbooks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purpose_assignments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purpose_sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purposes DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON request_policies DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON resources DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_campaigns DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_definitions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_notices DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_revocations DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_settings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON schedules DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON tenant_rules DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON workspaces DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON tenants DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump_tenant();

-- +goose Down
DROP TRIGGER home_v ON access_requests;
DROP TRIGGER home_v ON action_flow_scripts;
DROP TRIGGER home_v ON action_flows;
DROP TRIGGER home_v ON alert_settings;
DROP TRIGGER home_v ON applications;
DROP TRIGGER home_v ON approval_chains;
DROP TRIGGER home_v ON connection_assignments;
DROP TRIGGER home_v ON connections;
DROP TRIGGER home_v ON connector_syncs;
DROP TRIGGER home_v ON connectors;
DROP TRIGGER home_v ON decisions;
DROP TRIGGER home_v ON entitlements;
DROP TRIGGER home_v ON grant_settings;
DROP TRIGGER home_v ON import_settings;
DROP TRIGGER home_v ON outbound_allow;
DROP TRIGGER home_v ON playbook_runs;
DROP TRIGGER home_v ON playbooks;
DROP TRIGGER home_v ON purpose_assignments;
DROP TRIGGER home_v ON purpose_sessions;
DROP TRIGGER home_v ON purposes;
DROP TRIGGER home_v ON request_policies;
DROP TRIGGER home_v ON resources;
DROP TRIGGER home_v ON review_campaigns;
DROP TRIGGER home_v ON review_definitions;
DROP TRIGGER home_v ON review_items;
DROP TRIGGER home_v ON review_notices;
DROP TRIGGER home_v ON review_revocations;
DROP TRIGGER home_v ON review_settings;
DROP TRIGGER home_v ON schedules;
DROP TRIGGER home_v ON tenant_rules;
DROP TRIGGER home_v ON users;
DROP TRIGGER home_v ON workspaces;
DROP TRIGGER home_v ON tenants;
DROP FUNCTION home_bump_tenant();
DROP FUNCTION home_bump();
DROP TABLE home_versions;
