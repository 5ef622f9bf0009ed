"""The `reasonmed` command line: argparse, rich rendering, progress, the `--workers` launcher.

The top layer: nothing else imports it.
"""
