-- The catalog generation without one row every writer locks. Every write bumped
-- catalog_state.generation as its last statement and held that row's lock through its commit's
-- WAL flush, so writes of different tools (and of different replicas) committed one flush at a
-- time, each waiting for the others' (sessions 10-12's traces: `transactionid` and `tuple` lock
-- waits beside `WALSync`). A write now appends one row to catalog_changes instead, and its
-- notice leaves its transaction (publish_catalog_change): writes do not wait for each other,
-- so PostgreSQL can group their flushes.
--
-- The generation a snapshot reads is still the number of changes visible in it, exactly:
-- catalog_state.generation (the changes folded out of the log) + the log's rows visible in the
-- snapshot. A change's row and a fold are each one transaction, so a snapshot counts every
-- committed change once, as a row or inside the folded count, and a later snapshot (it sees a
-- superset of the commits) never counts fewer. `catalog_generation()` reads it.
--
-- The generation a write is told (publish_catalog_change's) is the count its own statement
-- sees plus itself: a lower bound of the generation of every snapshot that sees the write,
-- not an order between concurrent writes (two concurrent writers may be told the same number).
-- What needs that order (a process's whole read against its own writes, catalog/state.py)
-- compares the write's transaction id with the read's snapshot instead: `xid` here,
-- pg_current_snapshot() there.
--
-- The log keeps about the last 1,024 changes: every 256th change folds the rows before those
-- into catalog_state.generation (one folder at a time: a transaction-level advisory lock,
-- skipped when held), in its own transaction, which then holds the catalog_state row to its
-- commit; no writer but a folder touches that row any more.
SET LOCAL search_path = tool_catalog, public;

CREATE TABLE catalog_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    origin      text NOT NULL,
    names       text[] NOT NULL DEFAULT '{}',
    everything  boolean NOT NULL DEFAULT false,
    changed_at  timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
-- (Vacuumed by row count, not by share: its size stays ~1,000-1,300 live rows, and every
-- generation read counts them.)

-- The generation of the calling statement's snapshot (a REPEATABLE READ transaction's
-- snapshot when called in one): the number of committed changes visible in it.
CREATE FUNCTION catalog_generation() RETURNS bigint
LANGUAGE sql STABLE SET search_path = tool_catalog, public AS $$
    SELECT s.generation + (SELECT count(*) FROM catalog_changes) FROM catalog_state AS s
$$;

-- Record one change of the calling transaction (`p_origin`: the replica that made it;
-- `p_names`: the tools, or `p_everything`). Returns the change's id, the generation the write
-- is told (see above) and the transaction's id (xid8 as a number). No NOTIFY here: inside a
-- write's transaction it takes PostgreSQL's one notify lock from before the commit to after
-- its flush (async.c, PreCommit_Notify), and writers queued on that as they did on the row.
-- The caller notifies after its commit, in a transaction of its own that writes no WAL and
-- so waits for no flush; replicas find a change whose notice was lost in this log.
CREATE FUNCTION publish_catalog_change(p_origin text, p_names text[], p_everything boolean)
RETURNS TABLE (id bigint, generation bigint, xid bigint)
LANGUAGE plpgsql SET search_path = tool_catalog, public AS $$
DECLARE
    new_id bigint;
    folded bigint;
BEGIN
    INSERT INTO catalog_changes (origin, names, everything)
    VALUES (p_origin, p_names, p_everything)
    RETURNING catalog_changes.id INTO new_id;
    IF new_id % 256 = 0 AND pg_try_advisory_xact_lock(8392569455105287015) THEN
        -- Only rows this statement sees committed are removed and counted; a row of a
        -- transaction still running stays for a later fold.
        WITH gone AS (DELETE FROM catalog_changes AS c WHERE c.id <= new_id - 1024 RETURNING 1)
        SELECT count(*) INTO folded FROM gone;
        UPDATE catalog_state AS s SET generation = s.generation + folded, changed_at = now();
    END IF;
    RETURN QUERY SELECT new_id, catalog_generation(), pg_current_xact_id()::text::bigint;
END $$;

-- write_tools (0008) records its batch in the log and notifies no more (see above): its
-- 'published' row gives the change's id (in `id`), generation and xid; `p_origin` replaces
-- 0008's channel and notice.
DROP FUNCTION write_tools(jsonb, text, jsonb);

CREATE FUNCTION write_tools(
    p_writes jsonb,
    p_origin text
) RETURNS TABLE (
    ord integer,
    outcome text,
    id bigint,
    revision integer,
    etag text,
    definition jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    generation bigint,
    xid bigint,
    error_state text,
    error_constraint text,
    error_message text
) LANGUAGE plpgsql SET search_path = tool_catalog, public AS $$
DECLARE
    w jsonb;
    i integer := 0;
    cur tools%ROWTYPE;
    d jsonb;
    expected integer;
    done_names text[] := '{}';
    stopped text[] := '{}';
    published record;
    v_state text;
    v_constraint text;
    v_message text;
BEGIN
    PERFORM 1 FROM tools AS t
    WHERE t.name IN (SELECT DISTINCT x->>'name' FROM jsonb_array_elements(p_writes) AS x)
    ORDER BY t.name FOR UPDATE;
    FOR w IN SELECT x FROM jsonb_array_elements(p_writes) AS x LOOP
        i := i + 1;
        IF (w->>'name') = ANY(stopped) THEN
            RETURN QUERY SELECT i, 'skipped', NULL::bigint, NULL::integer, NULL::text,
                NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::bigint,
                NULL::text, NULL::text, NULL::text;
            CONTINUE;
        END IF;
        d := w->'definition';
        expected := (w->>'expected_revision')::integer;
        BEGIN
            SELECT * INTO cur FROM tools AS t WHERE t.name = w->>'name';
            IF NOT FOUND THEN
                stopped := stopped || (w->>'name');
                RETURN QUERY SELECT i, 'missing', NULL::bigint, NULL::integer, NULL::text,
                    NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::bigint,
                    NULL::bigint, NULL::text, NULL::text, NULL::text;
                CONTINUE;
            END IF;
            IF cur.revision <> expected THEN
                stopped := stopped || (w->>'name');
                RETURN QUERY SELECT i, 'moved', cur.id, cur.revision, cur.etag, cur.definition,
                    cur.created_at, cur.updated_at, NULL::bigint, NULL::bigint, NULL::text,
                    NULL::text, NULL::text;
                CONTINUE;
            END IF;
            UPDATE tools AS t SET
                version = d->>'version', display_name = d->>'display_name',
                description = d->>'description', platform = d->>'platform',
                category = d->>'category',
                tags = ARRAY(SELECT jsonb_array_elements_text(d->'tags')),
                status = d->>'status', enabled = (d->>'enabled')::boolean,
                owner = d->>'owner', docs_url = d->>'docs_url',
                examples = ARRAY(SELECT jsonb_array_elements_text(d->'examples')),
                definition = d, revision = expected + 1, etag = w->>'etag'
            WHERE t.id = cur.id
            RETURNING t.* INTO cur;
            DELETE FROM tool_capabilities AS c WHERE c.tool_id = cur.id;
            INSERT INTO tool_capabilities (tool_id, name, description, position)
            SELECT cur.id, c.name, c.description, c.position
            FROM jsonb_to_recordset(w->'capabilities')
                AS c(name text, description text, position smallint);
            INSERT INTO tool_patterns (
                capability_id, tool_id, name, description, typical_use_cases,
                time_estimate_ms, time_estimate_expr, cost_estimate, cost_estimate_expr,
                complexity, accuracy, completeness, production_safe, requires_approval,
                max_cost, max_execution_time_ms, requires_background_if,
                allowed_environments, position)
            SELECT c.id, cur.id, p.name, p.description, p.typical_use_cases,
                p.time_estimate_ms, p.time_estimate_expr, p.cost_estimate,
                p.cost_estimate_expr, p.complexity, p.accuracy, p.completeness,
                p.production_safe, p.requires_approval, p.max_cost, p.max_execution_time_ms,
                p.requires_background_if, p.allowed_environments, p.position
            FROM jsonb_to_recordset(w->'patterns') AS p(
                capability text, name text, description text, typical_use_cases text[],
                time_estimate_ms double precision, time_estimate_expr text,
                cost_estimate double precision, cost_estimate_expr text, complexity real,
                accuracy real, completeness real, production_safe boolean,
                requires_approval boolean, max_cost double precision,
                max_execution_time_ms bigint, requires_background_if text,
                allowed_environments text[], position smallint)
            JOIN tool_capabilities AS c ON c.tool_id = cur.id AND c.name = p.capability;
            INSERT INTO tool_versions (tool_id, revision, definition, actor, action)
            VALUES (cur.id, cur.revision, d, w->>'actor', w->>'action');
            INSERT INTO tool_audit_log (actor, action, tool_name, revision_before,
                                        revision_after, diff, request_id, client_address)
            VALUES (w->>'actor', w->>'action', cur.name, expected, cur.revision, w->'diff',
                    w->>'request_id', w->>'client_address');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE,
                v_constraint = CONSTRAINT_NAME, v_message = MESSAGE_TEXT;
            stopped := stopped || (w->>'name');
            RETURN QUERY SELECT i, 'failed', NULL::bigint, NULL::integer, NULL::text,
                NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::bigint,
                v_state, NULLIF(v_constraint, ''), v_message;
            CONTINUE;
        END;
        IF NOT (cur.name = ANY(done_names)) THEN
            done_names := done_names || cur.name;
        END IF;
        -- The definition as stored (jsonb orders keys its own way): what every replica's
        -- read of the row serves, byte for byte.
        RETURN QUERY SELECT i, 'written', cur.id, cur.revision, cur.etag, cur.definition,
            cur.created_at, cur.updated_at, NULL::bigint, NULL::bigint, NULL::text, NULL::text,
            NULL::text;
    END LOOP;
    IF cardinality(done_names) > 0 THEN
        SELECT * INTO published FROM publish_catalog_change(p_origin, done_names, false);
        RETURN QUERY SELECT 0, 'published', published.id, NULL::integer, NULL::text,
            NULL::jsonb, NULL::timestamptz, NULL::timestamptz, published.generation,
            published.xid, NULL::text, NULL::text, NULL::text;
    END IF;
END $$;
