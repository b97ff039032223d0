"""Test utilities that ship with the package: a real local OpenAI-compatible HTTP server."""
