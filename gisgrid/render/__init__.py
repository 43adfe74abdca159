"""Formats: turning plain data (rows, reports) into files people open. No queries here."""
