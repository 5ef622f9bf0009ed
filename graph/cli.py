"""`reasonmed`: thin commands over the runner, the stores and the mock endpoint.

Each command lives in its own module (`cli_run`, `cli_inspect`, `cli_step`, `cli_replay`) and
registers itself here. Exit codes: 0 success; 1 the run ended with failed questions (run it
again to retry them); 2 bad input (question file, config, options, unknown run or question)
found before any model call; 3 the config differs from the run's stored one (see
--accept-config-change); 4 the run spent its --budget (resumable); 130 interrupted
(everything checkpointed is kept).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.text import Text

from reasonmed.graph import cli_estimate, cli_eval, cli_inspect, cli_replay, cli_run, cli_step
from reasonmed.graph.cli_common import EXIT_CONFIG_CHANGED, EXIT_INPUT
from reasonmed.graph.config import ConfigError
from reasonmed.graph.runner import ConfigChangedError
from reasonmed.storage.claims import RunBusyError
from reasonmed.storage.questions import QuestionFileError

COMMAND_MODULES = (cli_run, cli_step, cli_replay, cli_inspect, cli_estimate, cli_eval)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reasonmed",
        description="Verified medical chain-of-thought data with the ReasonMed multi-agent method.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    sub.add_parser(
        "mock-server",
        help="the local deterministic OpenAI-compatible endpoint (see: reasonmed mock-server -h)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `reasonmed` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mock-server"]:  # its own options, parsed by the mock server itself
        from reasonmed.mockserver.server import main as mock_main

        return mock_main(argv[1:])
    args = _parser().parse_args(argv)
    console = Console(stderr=True)
    try:
        return args.handler(args, console)
    except (
        QuestionFileError,
        ConfigError,
        FileNotFoundError,
        LookupError,
        ValueError,
        RunBusyError,
    ) as exc:
        console.print(Text.assemble(("error: ", "red"), str(exc)), highlight=False, soft_wrap=True)
        return EXIT_INPUT
    except ConfigChangedError as exc:
        console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_CONFIG_CHANGED


if __name__ == "__main__":
    sys.exit(main())
