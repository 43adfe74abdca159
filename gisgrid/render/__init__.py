"""Formats for people: how gisgrid writes what it shows (no queries here)."""
