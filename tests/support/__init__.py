"""Helpers the test tiers share (one copy each): talking to the local API server as a user would,
waiting on conditions, and reading what the operator said (conditions, Events)."""
