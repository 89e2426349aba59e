-- +goose Up
-- A Home shows provisioning flows only while failed or waiting (the admins'
-- list, handlers Flows.HomeBlocks), so a flow that runs and finishes
-- without either leaves every Home as it was: its writes no longer move the
-- Home version. Each approval wrote such a flow, and every user's next open
-- rendered again for each of its writes. A flow's steps show only in that
-- list too: a step's write moves the version only while its flow is failed
-- or waiting (at commit; a flow's status changes with its steps, in
-- SaveActionFlow).
-- The bump itself moves to home_bump_id, shared by all the trigger
-- functions.
-- +goose StatementBegin
CREATE FUNCTION home_bump_id(t TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('accessbot.home_bumped', true) IS NOT DISTINCT FROM t THEN
        RETURN;
    END IF;
    INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    PERFORM set_config('accessbot.home_bumped', t, true);
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN PERFORM home_bump_id(OLD.tenant_id); ELSE PERFORM home_bump_id(NEW.tenant_id); END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN PERFORM home_bump_id(OLD.id); ELSE PERFORM home_bump_id(NEW.id); END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION home_bump_flow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.status IN ('failed', 'waiting') THEN
            PERFORM home_bump_id(OLD.tenant_id);
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.status IN ('failed', 'waiting') THEN
            PERFORM home_bump_id(NEW.tenant_id);
        END IF;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION home_bump_flow_step() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE t TEXT; f TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN t := OLD.tenant_id; f := OLD.flow_id; ELSE t := NEW.tenant_id; f := NEW.flow_id; END IF;
    IF EXISTS (SELECT 1 FROM action_flows WHERE tenant_id = t AND id = f AND status IN ('failed', 'waiting')) THEN
        PERFORM home_bump_id(t);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TRIGGER home_v ON action_flows;
DROP TRIGGER home_v ON action_flow_scripts;
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flows DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump_flow();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flow_scripts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump_flow_step();

-- +goose Down
DROP TRIGGER home_v ON action_flows;
DROP TRIGGER home_v ON action_flow_scripts;
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flows DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flow_scripts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
DROP FUNCTION home_bump_flow_step();
DROP FUNCTION home_bump_flow();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION home_bump_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION home_bump_id(TEXT);
