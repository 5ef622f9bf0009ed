"""Wiring of the EMD graph. Only wiring: nodes live in agents/ and steps, decisions in routing.

START -> generate x (models x temperatures) -> collect -> verify x paths -> classify
classify -> rank (easy, medium) | regenerate (difficult) | finalize (nothing generated)
rank, refine, regenerate, reverify -> plan -> refine | regenerate | reverify | summarize
                                            | finalize
summarize x kept -> finalize -> END
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from reasonmed.agents.generator import generate
from reasonmed.agents.ranker import rank
from reasonmed.agents.refiner import refine
from reasonmed.agents.regenerator import regenerate
from reasonmed.agents.reverifier import reverify
from reasonmed.agents.summarizer import summarize
from reasonmed.agents.verifier import verify
from reasonmed.core.state import QuestionState
from reasonmed.graph import routing as r
from reasonmed.graph.control_nodes import barrier, classify, finalize
from reasonmed.llm.context import PipelineContext

WORK = [r.REFINE, r.REGENERATE, r.REVERIFY, r.SUMMARIZE, r.FINALIZE]


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The per-question pipeline graph, compiled with `checkpointer`."""
    g = StateGraph(QuestionState, context_schema=PipelineContext)
    g.add_node(r.GENERATE, generate)
    g.add_node(r.COLLECT, barrier)
    g.add_node(r.VERIFY, verify)
    g.add_node(r.CLASSIFY, classify)
    g.add_node(r.RANK, rank)
    g.add_node(r.REFINE, refine)
    g.add_node(r.REGENERATE, regenerate)
    g.add_node(r.REVERIFY, reverify)
    g.add_node(r.PLAN, barrier)
    g.add_node(r.SUMMARIZE, summarize)
    g.add_node(r.FINALIZE, finalize)

    g.add_conditional_edges(START, r.route_start, [r.GENERATE])
    g.add_edge(r.GENERATE, r.COLLECT)
    g.add_conditional_edges(r.COLLECT, r.route_verify, [r.VERIFY, r.CLASSIFY])
    g.add_edge(r.VERIFY, r.CLASSIFY)
    g.add_conditional_edges(r.CLASSIFY, r.after_classify, [r.RANK, r.REGENERATE, r.FINALIZE])
    for node in (r.RANK, r.REFINE, r.REGENERATE, r.REVERIFY):
        g.add_edge(node, r.PLAN)
    g.add_conditional_edges(r.PLAN, r.route_work, WORK)
    g.add_edge(r.SUMMARIZE, r.FINALIZE)
    g.add_edge(r.FINALIZE, END)
    return g.compile(checkpointer=checkpointer)
