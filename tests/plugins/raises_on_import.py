"""A plugin module whose import fails."""

raise ImportError("raises_on_import needs a library that is not installed")
