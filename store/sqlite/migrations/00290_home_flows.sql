-- +goose Up
-- A Home shows provisioning flows only while failed or waiting (the admins'
-- list, handlers Flows.HomeBlocks), so a flow that runs and finishes
-- without either leaves every Home as it was: its writes no longer move the
-- Home version. Each approval wrote such a flow, and every user's next open
-- rendered again for each of its writes. A flow's steps show only in that
-- list too: a step's write moves the version only while its flow is failed
-- or waiting (a flow's status changes with its steps, in SaveActionFlow,
-- and the flow's own trigger sees the status change).
DROP TRIGGER home_v_action_flow_scripts_i;
DROP TRIGGER home_v_action_flow_scripts_u;
DROP TRIGGER home_v_action_flow_scripts_d;
DROP TRIGGER home_v_action_flows_i;
DROP TRIGGER home_v_action_flows_u;
DROP TRIGGER home_v_action_flows_d;
CREATE TRIGGER home_v_action_flows_i AFTER INSERT ON action_flows WHEN NEW.status IN ('failed', 'waiting') BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flows_u AFTER UPDATE ON action_flows WHEN OLD.status IN ('failed', 'waiting') OR NEW.status IN ('failed', 'waiting') BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flows_d AFTER DELETE ON action_flows WHEN OLD.status IN ('failed', 'waiting') BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flow_scripts_i AFTER INSERT ON action_flow_scripts
    WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.flow_id AND f.status IN ('failed', 'waiting'))
    BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flow_scripts_u AFTER UPDATE ON action_flow_scripts
    WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = NEW.tenant_id AND f.id = NEW.flow_id AND f.status IN ('failed', 'waiting'))
    BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flow_scripts_d AFTER DELETE ON action_flow_scripts
    WHEN EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = OLD.tenant_id AND f.id = OLD.flow_id AND f.status IN ('failed', 'waiting'))
    BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;

-- +goose Down
DROP TRIGGER home_v_action_flow_scripts_i;
DROP TRIGGER home_v_action_flow_scripts_u;
DROP TRIGGER home_v_action_flow_scripts_d;
DROP TRIGGER home_v_action_flows_i;
DROP TRIGGER home_v_action_flows_u;
DROP TRIGGER home_v_action_flows_d;
CREATE TRIGGER home_v_action_flow_scripts_i AFTER INSERT ON action_flow_scripts BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flow_scripts_u AFTER UPDATE ON action_flow_scripts BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flow_scripts_d AFTER DELETE ON action_flow_scripts BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flows_i AFTER INSERT ON action_flows BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flows_u AFTER UPDATE ON action_flows BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (NEW.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
CREATE TRIGGER home_v_action_flows_d AFTER DELETE ON action_flows BEGIN INSERT INTO home_versions (tenant_id, version) VALUES (OLD.tenant_id, 1) ON CONFLICT (tenant_id) DO UPDATE SET version = version + 1; END;
