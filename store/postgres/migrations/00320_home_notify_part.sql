-- +goose Up
-- The notification names the part of the Home version it moved:
-- "schema/" then a JSON array [tenant id, part], part being '*' (everyone),
-- '@admins' or a user id. A process keeping versions in memory then drops
-- only that part (store/sqlstore/homecache.go): an approval no longer
-- sends every viewer's next Home open to the database. The schema prefix is
-- kept, so a listener of an older build still matches it and drops
-- everything, as it did. PostgreSQL only: SQLite keeps no versions in
-- memory and has no notifications (as for 00291).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_mark(t TEXT, aud TEXT) RETURNS void LANGUAGE plpgsql AS $$
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
        PERFORM set_config('accessbot.home_everyone', t, true);
    ELSIF aud = '@admins' THEN
        INSERT INTO home_versions AS h (tenant_id, version, admins) VALUES (t, 0, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET admins = h.admins + 1;
    ELSE
        INSERT INTO home_user_versions AS h (tenant_id, user_id, version) VALUES (t, aud, 1)
            ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = h.version + 1;
    END IF;
    PERFORM set_config('accessbot.home_bumped', (seen || jsonb_build_array(jsonb_build_array(t, aud)))::text, true);
    PERFORM pg_notify('accessbot_home', current_schema() || '/' || jsonb_build_array(t, aud)::text);
END $$;
-- +goose StatementEnd

-- home_bump skips the rows of a tenant whose everyone's part this
-- transaction already moved (accessbot.home_everyone, set by home_mark):
-- a bulk write past 64 parts then costs each further row two settings
-- read, not a JSON conversion of the row and of the parts seen.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind TEXT := COALESCE(TG_ARGV[0], 'everyone');
    r JSONB;
    t TEXT;
BEGIN
    -- Once everyone's part moved in this transaction (a bulk write past 64
    -- parts), nothing else of the tenant's can move: skip the row before
    -- converting it to JSON.
    IF kind <> 'tenant' THEN
        IF TG_OP = 'DELETE' THEN t := OLD.tenant_id; ELSE t := NEW.tenant_id; END IF;
        IF current_setting('accessbot.home_everyone', true) IS NOT DISTINCT FROM t THEN
            RETURN NULL;
        END IF;
    END IF;
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

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION home_mark(t TEXT, aud TEXT) RETURNS void LANGUAGE plpgsql AS $$
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
