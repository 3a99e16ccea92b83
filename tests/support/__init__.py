"""Helpers the test tiers share (one copy each, never copied between test files): talking to the
local API server as a user would, waiting on conditions, reading what the operator said
(conditions, Events), and the peers the drift engine is compared with."""
