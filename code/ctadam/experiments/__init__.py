"""Experiment drivers and aggregations that turn run records into figures, tables and numbers."""
