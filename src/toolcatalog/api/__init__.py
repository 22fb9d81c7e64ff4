"""The HTTP door: parse, call the runtime, render, map errors once (problems.py)."""
