"""Evaluations of a run and of models: judge scores, held-out accuracy, reports."""
