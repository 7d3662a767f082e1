"""Solver seams: one module per backend; each imports its solver lazily."""
