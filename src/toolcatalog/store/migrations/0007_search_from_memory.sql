-- Full-text search is answered from memory (catalog/search_index.py, restricted to fields or
-- not): nothing reads `tools.search` any more. Dropping it, its GIN index and the
-- `search_text` it was made from removes the largest piece of an import's work in the
-- database (`to_tsvector` of every written row: ~1.5 s of PostgreSQL's ~7.6 s per 10,000
-- generated tools). write_tool loses its `p_search_text` parameter.
--
-- A pattern's `tool_id` no longer has a foreign key of its own: its capability's key already
-- ties it to a tool (deleting the tool cascades through the capability), and the check per
-- row was ~0.6 s of PostgreSQL CPU per 60,000 imported patterns. The index on it stays.

SET LOCAL search_path = tool_catalog, public;

ALTER TABLE tool_patterns DROP CONSTRAINT tool_patterns_tool_fkey;

ALTER TABLE tools DROP COLUMN search;
ALTER TABLE tools DROP COLUMN search_text;

DROP FUNCTION write_tool(text, integer, jsonb, text, text, jsonb, jsonb, text, text, jsonb, text,
                         text, text, jsonb);

CREATE FUNCTION write_tool(
    p_name text,
    p_expected_revision integer,
    p_definition jsonb,
    p_etag text,
    p_capabilities jsonb,
    p_patterns jsonb,
    p_actor text,
    p_action text,
    p_diff jsonb,
    p_request_id text,
    p_client_address text,
    p_channel text,
    p_notice jsonb
) RETURNS TABLE (
    outcome text,
    id bigint,
    revision integer,
    etag text,
    definition jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    generation bigint
) LANGUAGE plpgsql SET search_path = tool_catalog, public AS $$
DECLARE
    cur tools%ROWTYPE;
    d jsonb := p_definition;
    new_generation bigint;
BEGIN
    SELECT * INTO cur FROM tools AS t WHERE t.name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'missing', NULL::bigint, NULL::integer, NULL::text, NULL::jsonb,
            NULL::timestamptz, NULL::timestamptz, NULL::bigint;
        RETURN;
    END IF;
    IF cur.revision <> p_expected_revision THEN
        RETURN QUERY SELECT 'moved', cur.id, cur.revision, cur.etag, cur.definition,
            cur.created_at, cur.updated_at, NULL::bigint;
        RETURN;
    END IF;
    UPDATE tools AS t SET
        version = d->>'version', display_name = d->>'display_name',
        description = d->>'description', platform = d->>'platform', category = d->>'category',
        tags = ARRAY(SELECT jsonb_array_elements_text(d->'tags')), status = d->>'status',
        enabled = (d->>'enabled')::boolean, owner = d->>'owner', docs_url = d->>'docs_url',
        examples = ARRAY(SELECT jsonb_array_elements_text(d->'examples')), definition = d,
        revision = p_expected_revision + 1, etag = p_etag
    WHERE t.id = cur.id
    RETURNING t.* INTO cur;
    DELETE FROM tool_capabilities AS c WHERE c.tool_id = cur.id;
    INSERT INTO tool_capabilities (tool_id, name, description, position)
    SELECT cur.id, c.name, c.description, c.position
    FROM jsonb_to_recordset(p_capabilities) AS c(name text, description text, position smallint);
    INSERT INTO tool_patterns (
        capability_id, tool_id, name, description, typical_use_cases, time_estimate_ms,
        time_estimate_expr, cost_estimate, cost_estimate_expr, complexity, accuracy,
        completeness, production_safe, requires_approval, max_cost, max_execution_time_ms,
        requires_background_if, allowed_environments, position)
    SELECT c.id, cur.id, p.name, p.description, p.typical_use_cases, p.time_estimate_ms,
        p.time_estimate_expr, p.cost_estimate, p.cost_estimate_expr, p.complexity, p.accuracy,
        p.completeness, p.production_safe, p.requires_approval, p.max_cost,
        p.max_execution_time_ms, p.requires_background_if, p.allowed_environments, p.position
    FROM jsonb_to_recordset(p_patterns) AS p(
        capability text, name text, description text, typical_use_cases text[],
        time_estimate_ms double precision, time_estimate_expr text,
        cost_estimate double precision, cost_estimate_expr text, complexity real,
        accuracy real, completeness real, production_safe boolean, requires_approval boolean,
        max_cost double precision, max_execution_time_ms bigint, requires_background_if text,
        allowed_environments text[], position smallint)
    JOIN tool_capabilities AS c ON c.tool_id = cur.id AND c.name = p.capability;
    INSERT INTO tool_versions (tool_id, revision, definition, actor, action)
    VALUES (cur.id, cur.revision, d, p_actor, p_action);
    INSERT INTO tool_audit_log (actor, action, tool_name, revision_before, revision_after, diff,
                                request_id, client_address)
    VALUES (p_actor, p_action, p_name, p_expected_revision, cur.revision, p_diff, p_request_id,
            p_client_address);
    UPDATE catalog_state AS s SET generation = s.generation + 1, changed_at = now()
    RETURNING s.generation INTO new_generation;
    PERFORM pg_notify(p_channel, jsonb_set(p_notice, '{generation}', to_jsonb(new_generation))::text);
    RETURN QUERY SELECT 'written', cur.id, cur.revision, cur.etag, cur.definition,
        cur.created_at, cur.updated_at, new_generation;
END $$;
