"""Test-only plugin modules, named under `plugins:` in temporary policies files."""
