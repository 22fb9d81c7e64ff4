-- write_tools: a process's queued tool writes (several tools, several successive revisions of
-- one tool) in one statement, one transaction and one commit flush, where write_tool took one
-- of each per write. Under mixed load every write held the one catalog_state row from its
-- generation bump through its commit's WAL flush, so writes committed one flush at a time and
-- queued behind each other (session 10's trace: a patch's p90 was its tool's previous write,
-- 178-300 ms, plus its own write_tool, 162-262 ms). Here the generation is bumped once for
-- the whole batch, as its last statement, and one notice names every tool written.
--
-- p_writes is a JSON array of writes, each {name, expected_revision, definition, etag,
-- capabilities, patterns, actor, action, diff, request_id, client_address} (as write_tool's
-- parameters). Each write applies alone or not at all (its own subtransaction): its row,
-- capabilities, patterns, version and audit entry, provided the row is still at
-- expected_revision. A row past it is 'moved' (given back, nothing written); an absent one
-- 'missing'; a write the database refuses is 'failed' with its SQLSTATE, constraint and
-- message; once one write of a tool did not land, the tool's later writes of the batch are
-- 'skipped' (each was planned on the one before it). One row per write, in order (`ord`
-- counts from 1), then a row with ord 0 and the batch's generation when anything was written.
--
-- The tools' rows are locked first, in name order (as imports lock them), then the generation
-- row last: two batches, or a batch and an import, never wait for each other in a cycle.

SET LOCAL search_path = tool_catalog, public;

DROP FUNCTION write_tool(text, integer, jsonb, text, jsonb, jsonb, text, text, jsonb, text, text,
                         text, jsonb);

CREATE FUNCTION write_tools(
    p_writes jsonb,
    p_channel text,
    p_notice jsonb
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
    new_generation bigint;
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
                NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::text,
                NULL::text, NULL::text;
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
                    NULL::text, NULL::text, NULL::text;
                CONTINUE;
            END IF;
            IF cur.revision <> expected THEN
                stopped := stopped || (w->>'name');
                RETURN QUERY SELECT i, 'moved', cur.id, cur.revision, cur.etag, cur.definition,
                    cur.created_at, cur.updated_at, NULL::bigint, NULL::text, NULL::text,
                    NULL::text;
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
                NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::bigint, v_state,
                NULLIF(v_constraint, ''), v_message;
            CONTINUE;
        END;
        IF NOT (cur.name = ANY(done_names)) THEN
            done_names := done_names || cur.name;
        END IF;
        -- The definition as stored (jsonb orders keys its own way): what every replica's
        -- read of the row serves, byte for byte.
        RETURN QUERY SELECT i, 'written', cur.id, cur.revision, cur.etag, cur.definition,
            cur.created_at, cur.updated_at, NULL::bigint, NULL::text, NULL::text, NULL::text;
    END LOOP;
    IF cardinality(done_names) > 0 THEN
        UPDATE catalog_state AS s SET generation = s.generation + 1, changed_at = now()
        RETURNING s.generation INTO new_generation;
        PERFORM pg_notify(p_channel, jsonb_set(jsonb_set(p_notice, '{generation}',
            to_jsonb(new_generation)), '{names}', to_jsonb(done_names))::text);
        RETURN QUERY SELECT 0, 'published', NULL::bigint, NULL::integer, NULL::text,
            NULL::jsonb, NULL::timestamptz, NULL::timestamptz, new_generation, NULL::text,
            NULL::text, NULL::text;
    END IF;
END $$;
