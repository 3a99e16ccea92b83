"""Helpers shared by test modules (one copy each: never copied between test files)."""
