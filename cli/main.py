"""`reasonmed`: thin commands over the runner, the stores and the mock endpoint.

Each command lives in its own module (`run_command`, `inspect_commands`, `step_command`, ...) and
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

from reasonmed.cli import (
    estimate_command,
    eval_command,
    import_command,
    inspect_commands,
    replay_command,
    run_command,
    step_command,
)
from reasonmed.cli.common import EXIT_CONFIG_CHANGED, EXIT_INPUT
from reasonmed.core.config import ConfigError
from reasonmed.graph.runner import ConfigChangedError
from reasonmed.sources.question_files import QuestionFileError
from reasonmed.storage.claims import RunBusyError

COMMAND_MODULES = (
    import_command,
    run_command,
    step_command,
    replay_command,
    inspect_commands,
    estimate_command,
    eval_command,
)


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
