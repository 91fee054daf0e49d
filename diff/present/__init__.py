"""Presenters: one per output format, all reading the same change model."""
