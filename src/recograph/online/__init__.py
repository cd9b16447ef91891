"""Closing the loop online: A/B variants, metrics computed from the serving logs, reports."""
