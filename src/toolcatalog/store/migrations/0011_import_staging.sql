-- An import's new tools rows, COPYed over a second connection while the import's own
-- transaction writes the previous chunk's capabilities, patterns, versions and audit
-- entries, then moved into `tools` by one INSERT ... SELECT inside that transaction
-- (catalog/imports.py, store/import_rows.py). Parsing and compressing the ~4 KB documents is
-- most of a tools row's cost in the database (20,000 generated tools, backend CPU: COPY into
-- `tools` 1.74-1.90 s; into this table 1.35-1.48 s, on the other backend; moving them
-- 0.57-0.67 s): the moved datums are copied as they are, as a version copies its tool's row.
--
-- Unlogged and without constraints: a staged row is read only by the import that staged it,
-- which deletes each batch once moved and every batch it staged when it ends, committed or
-- not (`tools` checks each row as it is moved in; a crash empties the table). `staged_at`
-- lets a later import delete the batches of a process killed mid-import.
SET LOCAL search_path = tool_catalog, public;

CREATE UNLOGGED TABLE tool_import_rows (
    batch        uuid NOT NULL,
    id           bigint NOT NULL,
    name         text NOT NULL,
    version      text NOT NULL,
    display_name text,
    description  text NOT NULL,
    platform     text NOT NULL,
    category     text NOT NULL,
    tags         text[] NOT NULL,
    status       text NOT NULL,
    enabled      boolean NOT NULL,
    owner        text,
    docs_url     text,
    examples     text[] NOT NULL,
    definition   jsonb NOT NULL,
    revision     integer NOT NULL,
    etag         text NOT NULL,
    staged_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_import_rows_batch_idx ON tool_import_rows (batch);
