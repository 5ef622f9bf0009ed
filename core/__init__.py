"""The vocabulary every layer shares: the question, the run config, the graph state, a call record.

The bottom layer: it imports nothing else of the project, so every other folder can use it.
"""
