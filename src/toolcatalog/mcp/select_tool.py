"""select_tool: the selector over MCP, the same code POST /api/v1/select runs, answering with
the SelectionResult as structured content (under a shallow output schema, see
results.shallow_output_schema) and a short text rendering."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from toolcatalog.errors import CatalogError
from toolcatalog.mcp.rendering import render_selection
from toolcatalog.mcp.results import READ_ONLY, refused, shallow_output_schema, text_result
from toolcatalog.runtime import Runtime
from toolcatalog.selection.models import (
    Classification,
    Constraints,
    Preferences,
    SelectionRequest,
    SelectionResult,
)

SELECT_OUTPUT_SCHEMA = shallow_output_schema(SelectionResult)


def build_select_tool(runtime: Runtime, overview: str) -> Tool:
    """The select_tool registration. Its result is built from a validated SelectionResult, so
    the SDK's re-validation of each answer against the model is skipped (output_model None:
    the schema is published, not re-checked here)."""

    async def select_tool(
        request: Annotated[str, Field(description="The operations request in plain words.")],
        preferences: Preferences | None = None,
        constraints: Constraints | None = None,
        inputs: dict[str, float | int | bool | str] | None = None,
        classification: Classification | None = None,
        top_k: Annotated[int, Field(ge=1, le=50, description="Alternatives to rank.")] = 5,
        session_id: Annotated[
            str | None,
            Field(description="Your session: experiments assign their variant by it."),
        ] = None,
    ) -> Annotated[CallToolResult, SelectionResult]:
        try:
            body = SelectionRequest.model_validate(
                {
                    "request": request,
                    "preferences": preferences,
                    "constraints": constraints or Constraints(),
                    "inputs": inputs or {},
                    "classification": classification,
                    "top_k": top_k,
                    "session_id": session_id,
                }
            )
        except ValidationError as exc:
            raise refused(exc) from None
        try:
            result = await runtime.selector.aselect(body)
        except CatalogError as exc:
            raise ToolError(exc.detail) from None
        return text_result(render_selection(result), result.model_dump(mode="json"))

    tool = Tool.from_function(
        select_tool,
        title="Select the tool for an operations request",
        description=(
            "Pick the best (tool, capability, pattern) for an operations request in plain "
            f"words, such as 'why is / full on db2'. {overview} Answers with the decision "
            "(tool, capability, pattern, inputs, how to run it, effect, policy outcome) or "
            "decision null with the reason when nothing in the catalog fits (a result, not an "
            "error), plus the ranked alternatives with estimates, policy flags and reasons. "
            "Optional: preferences ({'mode': 'fast'|'accurate'|'cheap'|'balanced'|'simple'|"
            "'thorough'} or explicit weights), constraints (platform, environment, max_cost, "
            "max_time_ms, include_tools, exclude_tools), inputs (values for the patterns' "
            "estimates, e.g. {'files': 200000}) and classification (an upstream Stage A "
            "intent/entities/risk). Read-only: it never runs anything."
        ),
        annotations=READ_ONLY,
    )
    tool.fn_metadata.output_schema = SELECT_OUTPUT_SCHEMA
    tool.fn_metadata.output_model = None
    return tool
