"""modelops."""
