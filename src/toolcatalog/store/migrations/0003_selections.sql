-- tool_selections: every answer of the selector, whichever door asked (API, CLI, MCP), so that
-- feedback, outcomes (tool_telemetry) and experiments can refer to it by selection_id. Written
-- in batches by COPY off the request path (catalog/selection_log.py); a row may arrive a
-- second after its answer. `subject` is the session id or API key name experiments stick to.
SET LOCAL search_path = tool_catalog, public;
CREATE TABLE tool_selections (
    selection_id     uuid PRIMARY KEY,
    selected_at      timestamptz NOT NULL DEFAULT now(),
    request          text NOT NULL,
    tool_name        text,
    capability       text,
    pattern          text,
    catalog_version  bigint NOT NULL,
    experiment       text,
    variant          text,
    subject          text,
    CONSTRAINT tool_selections_decision_check CHECK (
        (tool_name IS NULL) = (capability IS NULL) AND (tool_name IS NULL) = (pattern IS NULL)),
    CONSTRAINT tool_selections_variant_check CHECK ((experiment IS NULL) = (variant IS NULL))
);
CREATE INDEX tool_selections_selected_at_idx ON tool_selections (selected_at);
CREATE INDEX tool_selections_experiment_idx ON tool_selections (experiment, variant)
    WHERE experiment IS NOT NULL;

-- tool_selection_feedback: what the caller did with a selection: accepted it, rejected it,
-- or overrode it with another (tool, capability, pattern). One verdict per selection (the
-- latest wins). Feedback with its selection's request is a labelled example the selector
-- learns from (selection/feedback.py) and bench/select_quality.py can export.
CREATE TABLE tool_selection_feedback (
    selection_id  uuid PRIMARY KEY,
    outcome       text NOT NULL,
    tool_name     text NOT NULL,
    capability    text NOT NULL,
    pattern       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tool_selection_feedback_selection_fkey FOREIGN KEY (selection_id)
        REFERENCES tool_selections (selection_id) ON DELETE CASCADE,
    CONSTRAINT tool_selection_feedback_outcome_check
        CHECK (outcome IN ('accepted', 'rejected', 'overridden'))
);
CREATE INDEX tool_selection_feedback_created_at_idx ON tool_selection_feedback (created_at);

-- tool_ab_tests (0001) holds experiments: `variants` is the list of {name, share, config}
-- (a selector configuration each), `status` draft|running|stopped|completed; a promoted
-- variant's configuration becomes the selector's default.
ALTER TABLE tool_ab_tests ADD COLUMN promoted_variant text;
