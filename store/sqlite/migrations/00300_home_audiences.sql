-- +goose Up
-- The Home version, finer than the tenant: see the PostgreSQL migration of
-- the same number for the three parts (everyone's, the admins', each
-- user's) and which writes move which. Here each row moves its parts (no
-- deferral or once per transaction: SQLite has one writer at a time).
ALTER TABLE home_versions ADD COLUMN admins INTEGER NOT NULL DEFAULT 0;
CREATE TABLE home_user_versions (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
-- Requests and decisions move the parts of the people the request names:
-- requester, the person it is for, every approver of every level (kept in
-- levels as JSON), before and after the write; a decision also its
-- approver's. Grants, purpose assignments and sessions move their user's
-- part and the admins', review items their reviewer's and the admins'.
-- Failed or waiting flows and their steps, connectors, their syncs and
-- schedules show on the admins' Homes only.
DROP TRIGGER home_v_access_requests_i;
DROP TRIGGER home_v_access_requests_u;
DROP TRIGGER home_v_access_requests_d;
DROP TRIGGER home_v_decisions_i;
DROP TRIGGER home_v_decisions_u;
DROP TRIGGER home_v_decisions_d;
DROP TRIGGER home_v_action_flows_i;
DROP TRIGGER home_v_action_flows_u;
DROP TRIGGER home_v_action_flows_d;
DROP TRIGGER home_v_action_flow_scripts_i;
DROP TRIGGER home_v_action_flow_scripts_u;
DROP TRIGGER home_v_action_flow_scripts_d;
DROP TRIGGER home_v_connectors_i;
DROP TRIGGER home_v_connectors_u;
DROP TRIGGER home_v_connectors_d;
DROP TRIGGER home_v_connector_syncs_i;
DROP TRIGGER home_v_connector_syncs_u;
DROP TRIGGER home_v_connector_syncs_d;
DROP TRIGGER home_v_schedules_i;
DROP TRIGGER home_v_schedules_u;
DROP TRIGGER home_v_schedules_d;
DROP TRIGGER home_v_entitlements_i;
DROP TRIGGER home_v_entitlements_u;
DROP TRIGGER home_v_entitlements_d;
DROP TRIGGER home_v_purpose_assignments_i;
DROP TRIGGER home_v_purpose_assignments_u;
DROP TRIGGER home_v_purpose_assignments_d;
DROP TRIGGER home_v_purpose_sessions_i;
DROP TRIGGER home_v_purpose_sessions_u;
DROP TRIGGER home_v_purpose_sessions_d;
DROP TRIGGER home_v_review_items_i;
DROP TRIGGER home_v_review_items_u;
DROP TRIGGER home_v_review_items_d;
-- +goose StatementBegin
CREATE TRIGGER home_v_access_requests_i AFTER INSERT ON access_requests BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT NEW.requester_id AS u UNION SELECT NEW.target_user_id UNION SELECT json_extract(a.value, '$.user_id') FROM json_each(CASE WHEN json_valid(NEW.levels) THEN NEW.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_access_requests_u AFTER UPDATE ON access_requests BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT OLD.requester_id AS u UNION SELECT OLD.target_user_id UNION SELECT json_extract(a.value, '$.user_id') FROM json_each(CASE WHEN json_valid(OLD.levels) THEN OLD.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a UNION SELECT NEW.requester_id AS u UNION SELECT NEW.target_user_id UNION SELECT json_extract(a.value, '$.user_id') FROM json_each(CASE WHEN json_valid(NEW.levels) THEN NEW.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_access_requests_d AFTER DELETE ON access_requests BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT OLD.tenant_id, u, 1 FROM (SELECT OLD.requester_id AS u UNION SELECT OLD.target_user_id UNION SELECT json_extract(a.value, '$.user_id') FROM json_each(CASE WHEN json_valid(OLD.levels) THEN OLD.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_decisions_i AFTER INSERT ON decisions BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT NEW.approver_id AS u UNION SELECT r.requester_id FROM access_requests r WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.request_id UNION SELECT r.target_user_id FROM access_requests r WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.request_id UNION SELECT json_extract(a.value, '$.user_id') FROM access_requests r, json_each(CASE WHEN json_valid(r.levels) THEN r.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.request_id)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_decisions_u AFTER UPDATE ON decisions BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT OLD.approver_id AS u UNION SELECT r.requester_id FROM access_requests r WHERE r.tenant_id = OLD.tenant_id AND r.id = OLD.request_id UNION SELECT r.target_user_id FROM access_requests r WHERE r.tenant_id = OLD.tenant_id AND r.id = OLD.request_id UNION SELECT json_extract(a.value, '$.user_id') FROM access_requests r, json_each(CASE WHEN json_valid(r.levels) THEN r.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a WHERE r.tenant_id = OLD.tenant_id AND r.id = OLD.request_id UNION SELECT NEW.approver_id AS u UNION SELECT r.requester_id FROM access_requests r WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.request_id UNION SELECT r.target_user_id FROM access_requests r WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.request_id UNION SELECT json_extract(a.value, '$.user_id') FROM access_requests r, json_each(CASE WHEN json_valid(r.levels) THEN r.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.request_id)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_decisions_d AFTER DELETE ON decisions BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT OLD.tenant_id, u, 1 FROM (SELECT OLD.approver_id AS u UNION SELECT r.requester_id FROM access_requests r WHERE r.tenant_id = OLD.tenant_id AND r.id = OLD.request_id UNION SELECT r.target_user_id FROM access_requests r WHERE r.tenant_id = OLD.tenant_id AND r.id = OLD.request_id UNION SELECT json_extract(a.value, '$.user_id') FROM access_requests r, json_each(CASE WHEN json_valid(r.levels) THEN r.levels ELSE '[]' END) l, json_each(l.value, '$.approvers') a WHERE r.tenant_id = OLD.tenant_id AND r.id = OLD.request_id)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flows_i AFTER INSERT ON action_flows WHEN NEW.status IN ('failed', 'waiting') BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flows_u AFTER UPDATE ON action_flows WHEN OLD.status IN ('failed', 'waiting') OR NEW.status IN ('failed', 'waiting') BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flows_d AFTER DELETE ON action_flows WHEN OLD.status IN ('failed', 'waiting') BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flow_scripts_i AFTER INSERT ON action_flow_scripts WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.flow_id AND f.status IN ('failed', 'waiting')) BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flow_scripts_u AFTER UPDATE ON action_flow_scripts WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.flow_id AND f.status IN ('failed', 'waiting')) BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flow_scripts_d AFTER DELETE ON action_flow_scripts WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = OLD.tenant_id AND f.id = OLD.flow_id AND f.status IN ('failed', 'waiting')) BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connectors_i AFTER INSERT ON connectors BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connectors_u AFTER UPDATE ON connectors BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connectors_d AFTER DELETE ON connectors BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connector_syncs_i AFTER INSERT ON connector_syncs BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connector_syncs_u AFTER UPDATE ON connector_syncs BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connector_syncs_d AFTER DELETE ON connector_syncs BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_schedules_i AFTER INSERT ON schedules BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_schedules_u AFTER UPDATE ON schedules BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_schedules_d AFTER DELETE ON schedules BEGIN
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_entitlements_i AFTER INSERT ON entitlements BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT NEW.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_entitlements_u AFTER UPDATE ON entitlements BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT OLD.user_id AS u UNION SELECT NEW.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_entitlements_d AFTER DELETE ON entitlements BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT OLD.tenant_id, u, 1 FROM (SELECT OLD.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_assignments_i AFTER INSERT ON purpose_assignments BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT NEW.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_assignments_u AFTER UPDATE ON purpose_assignments BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT OLD.user_id AS u UNION SELECT NEW.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_assignments_d AFTER DELETE ON purpose_assignments BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT OLD.tenant_id, u, 1 FROM (SELECT OLD.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_sessions_i AFTER INSERT ON purpose_sessions BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT NEW.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_sessions_u AFTER UPDATE ON purpose_sessions BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT OLD.user_id AS u UNION SELECT NEW.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_sessions_d AFTER DELETE ON purpose_sessions BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT OLD.tenant_id, u, 1 FROM (SELECT OLD.user_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_review_items_i AFTER INSERT ON review_items BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT NEW.reviewer_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_review_items_u AFTER UPDATE ON review_items BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT NEW.tenant_id, u, 1 FROM (SELECT OLD.reviewer_id AS u UNION SELECT NEW.reviewer_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (NEW.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_review_items_d AFTER DELETE ON review_items BEGIN
    INSERT INTO home_user_versions (tenant_id, user_id, version)
        SELECT OLD.tenant_id, u, 1 FROM (SELECT OLD.reviewer_id AS u)
        WHERE u IS NOT NULL AND u <> '' ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = version + 1;
    INSERT INTO home_versions (tenant_id, version, admins) VALUES (OLD.tenant_id, 0, 1) ON CONFLICT (tenant_id) DO UPDATE SET admins = admins + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER home_v_access_requests_i;
DROP TRIGGER home_v_access_requests_u;
DROP TRIGGER home_v_access_requests_d;
DROP TRIGGER home_v_decisions_i;
DROP TRIGGER home_v_decisions_u;
DROP TRIGGER home_v_decisions_d;
DROP TRIGGER home_v_action_flows_i;
DROP TRIGGER home_v_action_flows_u;
DROP TRIGGER home_v_action_flows_d;
DROP TRIGGER home_v_action_flow_scripts_i;
DROP TRIGGER home_v_action_flow_scripts_u;
DROP TRIGGER home_v_action_flow_scripts_d;
DROP TRIGGER home_v_connectors_i;
DROP TRIGGER home_v_connectors_u;
DROP TRIGGER home_v_connectors_d;
DROP TRIGGER home_v_connector_syncs_i;
DROP TRIGGER home_v_connector_syncs_u;
DROP TRIGGER home_v_connector_syncs_d;
DROP TRIGGER home_v_schedules_i;
DROP TRIGGER home_v_schedules_u;
DROP TRIGGER home_v_schedules_d;
DROP TRIGGER home_v_entitlements_i;
DROP TRIGGER home_v_entitlements_u;
DROP TRIGGER home_v_entitlements_d;
DROP TRIGGER home_v_purpose_assignments_i;
DROP TRIGGER home_v_purpose_assignments_u;
DROP TRIGGER home_v_purpose_assignments_d;
DROP TRIGGER home_v_purpose_sessions_i;
DROP TRIGGER home_v_purpose_sessions_u;
DROP TRIGGER home_v_purpose_sessions_d;
DROP TRIGGER home_v_review_items_i;
DROP TRIGGER home_v_review_items_u;
DROP TRIGGER home_v_review_items_d;
-- +goose StatementBegin
CREATE TRIGGER home_v_access_requests_i AFTER INSERT ON access_requests BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_access_requests_u AFTER UPDATE ON access_requests BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_access_requests_d AFTER DELETE ON access_requests BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_decisions_i AFTER INSERT ON decisions BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_decisions_u AFTER UPDATE ON decisions BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_decisions_d AFTER DELETE ON decisions BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connectors_i AFTER INSERT ON connectors BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connectors_u AFTER UPDATE ON connectors BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connectors_d AFTER DELETE ON connectors BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connector_syncs_i AFTER INSERT ON connector_syncs BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connector_syncs_u AFTER UPDATE ON connector_syncs BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_connector_syncs_d AFTER DELETE ON connector_syncs BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_schedules_i AFTER INSERT ON schedules BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_schedules_u AFTER UPDATE ON schedules BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_schedules_d AFTER DELETE ON schedules BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_entitlements_i AFTER INSERT ON entitlements BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_entitlements_u AFTER UPDATE ON entitlements BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_entitlements_d AFTER DELETE ON entitlements BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_assignments_i AFTER INSERT ON purpose_assignments BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_assignments_u AFTER UPDATE ON purpose_assignments BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_assignments_d AFTER DELETE ON purpose_assignments BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_sessions_i AFTER INSERT ON purpose_sessions BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_sessions_u AFTER UPDATE ON purpose_sessions BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_purpose_sessions_d AFTER DELETE ON purpose_sessions BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_review_items_i AFTER INSERT ON review_items BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_review_items_u AFTER UPDATE ON review_items BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_review_items_d AFTER DELETE ON review_items BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flows_i AFTER INSERT ON action_flows WHEN NEW.status IN ('failed', 'waiting') BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flows_u AFTER UPDATE ON action_flows WHEN OLD.status IN ('failed', 'waiting') OR NEW.status IN ('failed', 'waiting') BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flows_d AFTER DELETE ON action_flows WHEN OLD.status IN ('failed', 'waiting') BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flow_scripts_i AFTER INSERT ON action_flow_scripts WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.flow_id AND f.status IN ('failed', 'waiting')) BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flow_scripts_u AFTER UPDATE ON action_flow_scripts WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.flow_id AND f.status IN ('failed', 'waiting')) BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER home_v_action_flow_scripts_d AFTER DELETE ON action_flow_scripts WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = OLD.tenant_id AND f.id = OLD.flow_id AND f.status IN ('failed', 'waiting')) BEGIN
    INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1;
END;
-- +goose StatementEnd
DROP TABLE home_user_versions;
ALTER TABLE home_versions DROP COLUMN admins;
