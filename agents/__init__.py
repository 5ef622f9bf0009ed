"""The agent nodes of the pipeline, one module each, and the typed outputs they return.

Each node reads the state and calls its model through `reasonmed.llm`; nothing here knows about
the graph that wires them.
"""
