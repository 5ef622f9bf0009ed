"""Talking to models: the model registry and clients, limits, retries, and the one call path.

Every agent and every eval calls a model through `model_calls`, so each call is capped, seeded,
retried, cached and logged the same way.
"""
