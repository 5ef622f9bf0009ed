"""The LangGraph state machine: routing, the builder, the runner, sessions, trace data, replay."""
