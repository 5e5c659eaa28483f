"""The ``matkeras`` command."""

import argparse

from matkeras._version import __version__


def main(argv=None):
    parser = argparse.ArgumentParser(prog="matkeras", description="MATLAB sequence networks on "
                                     "Keras 3.")
    parser.add_argument("--version", action="version", version=f"matkeras {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train MATLAB's Japanese Vowels LSTM example")
    demo.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from matkeras import demo as demo_module

        demo_module.main([] if args.epochs is None else ["--epochs", str(args.epochs)])
    return 0
