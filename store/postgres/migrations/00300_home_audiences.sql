-- +goose Up
-- The Home version, finer than the tenant. A viewer's Home is rendered from
-- three parts (store.HomeVersion, handlers/home_memo.go):
--   everyone's  home_versions.version: writes any Home may show (users,
--               applications, connections, settings, the tenant, ...);
--   admins'     home_versions.admins: writes only the admins' sections show
--               (failed or waiting provisioning flows and their steps,
--               connectors, their syncs, schedules); read for admins only;
--   the user's  home_user_versions: writes to requests and decisions, which
--               a Home shows only to the people the request names: its
--               requester (My requests), the person it is for, and the
--               approvers kept in its levels (Waiting for me; they are
--               resolved when it is filed and kept with it), before and
--               after the write. A decision also moves its approver's.
--               And the rows a member's Home reads by the viewer alone:
--               grants (My access, by holder), purpose assignments and
--               sessions (by user), review items (the count, by reviewer);
--               these move the admins' part too (campaign progress and
--               whatever else the admins' sections read).
-- An approval used to move everyone's part, so every user's next open
-- rendered again; now only the Homes it can change do. What each Home
-- section reads: handlers (Requests.HomeView, Reviews.HomeCount,
-- Purposes.HomeBlocks for everyone; Reviews.HomeBlocks, Flows.HomeBlocks,
-- Connectors.HomeBlocks for admins only).
ALTER TABLE home_versions ADD COLUMN admins BIGINT NOT NULL DEFAULT 0;
CREATE TABLE home_user_versions (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
-- home_mark moves one part of tenant t's Home version: aud is '*'
-- (everyone), '@admins', or a user id. Once per transaction and part
-- (accessbot.home_bumped, transaction-local, lists the parts moved as JSON
-- pairs); none once everyone's moved, which re-renders every Home anyway;
-- and past 64 parts in one transaction it moves everyone's instead, so a
-- bulk write stays one row update per tenant. It NOTIFYs accessbot_home
-- ("schema/tenant id", delivered at commit) for the processes that keep
-- versions in memory (store/sqlstore/homecache.go).
-- +goose StatementBegin
CREATE FUNCTION home_mark(t TEXT, aud TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    seen JSONB := COALESCE(NULLIF(current_setting('accessbot.home_bumped', true), ''), '[]')::jsonb;
BEGIN
    IF t IS NULL OR aud IS NULL OR aud = '' THEN
        RETURN;
    END IF;
    IF seen @> jsonb_build_array(jsonb_build_array(t, '*')) OR seen @> jsonb_build_array(jsonb_build_array(t, aud)) THEN
        RETURN;
    END IF;
    IF aud <> '*' AND jsonb_array_length(seen) >= 64 THEN
        aud := '*';
    END IF;
    IF aud = '*' THEN
        INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    ELSIF aud = '@admins' THEN
        INSERT INTO home_versions AS h (tenant_id, version, admins) VALUES (t, 0, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET admins = h.admins + 1;
    ELSE
        INSERT INTO home_user_versions AS h (tenant_id, user_id, version) VALUES (t, aud, 1)
            ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = h.version + 1;
    END IF;
    PERFORM set_config('accessbot.home_bumped', (seen || jsonb_build_array(jsonb_build_array(t, aud)))::text, true);
    PERFORM pg_notify('accessbot_home', current_schema() || '/' || t);
END $$;
-- +goose StatementEnd
-- home_mark_request moves the parts of the people request r (a row as
-- JSON) names: requester, the person it is for, every approver of every
-- level.
-- +goose StatementBegin
CREATE FUNCTION home_mark_request(t TEXT, r JSONB) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF r IS NULL THEN
        RETURN;
    END IF;
    PERFORM home_mark(t, r->>'requester_id');
    PERFORM home_mark(t, r->>'target_user_id');
    PERFORM home_mark(t, a.approver->>'user_id')
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r->'levels') = 'array' THEN r->'levels' ELSE '[]' END) AS l(level),
             jsonb_array_elements(CASE WHEN jsonb_typeof(l.level->'approvers') = 'array' THEN l.level->'approvers' ELSE '[]' END) AS a(approver);
END $$;
-- +goose StatementEnd
-- home_bump is every home_v trigger: TG_ARGV[0] says which parts a row
-- moves (none given: everyone's), for the row before and after the write.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind TEXT := COALESCE(TG_ARGV[0], 'everyone');
    r JSONB;
    t TEXT;
BEGIN
    FOREACH r IN ARRAY ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END] LOOP
        CONTINUE WHEN r IS NULL;
        t := r->>'tenant_id';
        CASE kind
        WHEN 'everyone' THEN
            PERFORM home_mark(t, '*');
        WHEN 'tenant' THEN -- the tenants table itself
            PERFORM home_mark(r->>'id', '*');
        WHEN 'admins' THEN
            PERFORM home_mark(t, '@admins');
        WHEN 'holder' THEN -- TG_ARGV[1] names the user column
            IF NOT r ? TG_ARGV[1] THEN
                RAISE EXCEPTION 'home_bump: table % has no column %', TG_TABLE_NAME, TG_ARGV[1];
            END IF;
            PERFORM home_mark(t, r->>TG_ARGV[1]);
            PERFORM home_mark(t, '@admins');
        WHEN 'flow' THEN -- the admins' list shows failed and waiting flows
            IF r->>'status' IN ('failed', 'waiting') THEN
                PERFORM home_mark(t, '@admins');
            END IF;
        WHEN 'flow_step' THEN -- a step shows with its flow (status at commit)
            IF EXISTS (SELECT 1 FROM action_flows f WHERE f.tenant_id = t AND f.id = r->>'flow_id' AND f.status IN ('failed', 'waiting')) THEN
                PERFORM home_mark(t, '@admins');
            END IF;
        WHEN 'request' THEN
            PERFORM home_mark_request(t, r);
        WHEN 'decision' THEN
            PERFORM home_mark(t, r->>'approver_id');
            PERFORM home_mark_request(t, (SELECT to_jsonb(q) FROM access_requests q WHERE q.tenant_id = t AND q.id = r->>'request_id'));
        END CASE; -- an unknown kind fails the write (CASE_NOT_FOUND)
    END LOOP;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TRIGGER home_v ON tenants;
DROP TRIGGER home_v ON access_requests;
DROP TRIGGER home_v ON decisions;
DROP TRIGGER home_v ON action_flows;
DROP TRIGGER home_v ON action_flow_scripts;
DROP TRIGGER home_v ON connectors;
DROP TRIGGER home_v ON connector_syncs;
DROP TRIGGER home_v ON schedules;
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON tenants DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('tenant');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON access_requests DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('request');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON decisions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('decision');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flows DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('flow');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flow_scripts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('flow_step');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connectors DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('admins');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connector_syncs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('admins');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON schedules DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('admins');
DROP TRIGGER home_v ON entitlements;
DROP TRIGGER home_v ON purpose_assignments;
DROP TRIGGER home_v ON purpose_sessions;
DROP TRIGGER home_v ON review_items;
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON entitlements DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('holder', 'user_id');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purpose_assignments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('holder', 'user_id');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purpose_sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('holder', 'user_id');
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump('holder', 'reviewer_id');
DROP FUNCTION home_bump_tenant();
DROP FUNCTION home_bump_flow();
DROP FUNCTION home_bump_flow_step();
DROP FUNCTION home_bump_id(TEXT);

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION home_bump_id(t TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('accessbot.home_bumped', true) IS NOT DISTINCT FROM t THEN
        RETURN;
    END IF;
    INSERT INTO home_versions AS h (tenant_id, version) VALUES (t, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET version = h.version + 1;
    PERFORM set_config('accessbot.home_bumped', t, true);
    PERFORM pg_notify('accessbot_home', current_schema() || '/' || t);
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
CREATE FUNCTION home_bump_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP TRIGGER home_v ON tenants;
DROP TRIGGER home_v ON access_requests;
DROP TRIGGER home_v ON decisions;
DROP TRIGGER home_v ON action_flows;
DROP TRIGGER home_v ON action_flow_scripts;
DROP TRIGGER home_v ON connectors;
DROP TRIGGER home_v ON connector_syncs;
DROP TRIGGER home_v ON schedules;
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON tenants DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump_tenant();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON access_requests DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON decisions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flows DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump_flow();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON action_flow_scripts DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump_flow_step();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connectors DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON connector_syncs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON schedules DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
DROP TRIGGER home_v ON entitlements;
DROP TRIGGER home_v ON purpose_assignments;
DROP TRIGGER home_v ON purpose_sessions;
DROP TRIGGER home_v ON review_items;
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON entitlements DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purpose_assignments DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON purpose_sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
CREATE CONSTRAINT TRIGGER home_v AFTER INSERT OR UPDATE OR DELETE ON review_items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION home_bump();
DROP FUNCTION home_mark_request(TEXT, JSONB);
DROP FUNCTION home_mark(TEXT, TEXT);
DROP TABLE home_user_versions;
ALTER TABLE home_versions DROP COLUMN admins;
