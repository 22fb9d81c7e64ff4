"""The Model Context Protocol door: the MCP server both the API (Streamable HTTP at /mcp)
and the CLI (`toolcatalog mcp`, stdio) host. It calls the runtime only."""
