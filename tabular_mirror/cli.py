"""The ``tabular-mirror`` command line: one subcommand per job, errors as one clear line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import TabularMirrorError

__all__ = ["main"]


def _demo(arguments: argparse.Namespace) -> int:
    """Solve the MDPtoolbox "small" MDP exactly with every method and print the certificates."""
    from . import FiniteMDP, evaluate, solve
    from .optimal import METHODS

    mdp = FiniteMDP(
        [[["1/2", "1/2"], [0, 1]], [["4/5", "1/5"], ["1/10", "9/10"]]],
        [[5, 10], [-1, 2]],
        "9/10",
    )
    print(f"MDPtoolbox 'small': {mdp}")
    print(f"{'method':<28} {'mode':<6} {'V*':<32} {'iterations':>10} {'error bound':>14}  status")
    for exact_mode in (True, False):
        model = mdp if exact_mode else mdp.to_float()
        for method in METHODS:
            result = solve(model, method=method)
            values = ", ".join(str(v) if exact_mode else f"{v:.10f}" for v in result.values)
            print(
                f"{method:<28} {'exact' if exact_mode else 'float':<6} {values:<32} "
                f"{result.iterations:>10} {float(result.error_bound):>14.3g}  {result.status}"
            )
    evaluation = evaluate(mdp, [[0, 1], [1, 0]])
    print(
        f"\nvisitation of the optimal policy: {[str(v) for v in evaluation.visitation]} "
        f"(sums to {sum(evaluation.visitation)} = 1/(1-gamma))"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tabular-mirror",
        description="Exact tabular verification of mirror learning (Kuba et al., ICML 2022).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="solve a catalogue MDP exactly and print certificates")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tabular-mirror`` console script."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if not getattr(arguments, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(arguments.handler(arguments) or 0)
    except TabularMirrorError as error:
        print(f"tabular-mirror: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
