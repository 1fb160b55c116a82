"""Command line: each subcommand lives in its own module and is imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stream_notifier import __version__

# subcommand -> (module, help). Each module defines add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("stream_notifier.app.command", "consume, render and deliver notifications"),
    "render": ("stream_notifier.render.command", "print the request body an event would produce"),
    "check": ("stream_notifier.check", "check routes' template variables against Avro schemas"),
    "redrive": ("stream_notifier.operate.redrive", "put dead letters back on their topic"),
    "replay": ("stream_notifier.operate.replay", "move the group's offsets back to replay"),
    "dev-sink": ("stream_notifier.devsink.command", "a local notifications API for dev and tests"),
    "dev-produce": ("stream_notifier.devproduce", "produce example domain events"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stream-notifier", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stream-notifier {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    result: int = module.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
