"""The command-line door (Typer): parse, call the runtime, render with Rich or --json."""
