"""Reading model replies: JSON repair, reasoning wrappers, answer extraction, parse failures.

Shared by the agents and the evals; it knows nothing of transports or graphs.
"""
