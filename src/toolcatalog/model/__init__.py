"""Pydantic models of a tool definition: one model is the YAML format, the request body and
the JSON Schema."""
