"""The deck's five demos from a terminal: python -m helpers {amnesia,deep-dive,training,race,showdown}."""
import argparse
import sys

from .device import device_name, pick_device
from .experiments import NAMES, amnesia_test

WIDTH = 64


def banner(title):
    """A boxed title, the way the deck's scripts start."""
    return "\n".join(["=" * WIDTH, title.center(WIDTH), "=" * WIDTH])


def amnesia(args):
    """amnesia_test_demo.py: who remembers the first letter of a random string?"""
    print(banner("AMNESIA TEST: who remembers the first letter?"))
    device = pick_device(args.device)
    print(f"Training a plain RNN, an LSTM and a Transformer on strings of {args.length} letters, "
          f"{args.epochs} epochs, seed {args.seed}, on {device_name(device)} ...", flush=True)
    r = amnesia_test(length=args.length, epochs=args.epochs, seed=args.seed, device=args.device)
    print(f"\nTest string (never seen in training):\n  {r.string}")
    print(f"Question: what was the FIRST letter?   Truth: {r.answer}\n")
    for kind, guess in r.predictions.items():
        mark = "✓ right" if guess == r.answer else "✗ wrong"
        print(f"  {NAMES[kind]:<12} answers {guess}  {mark:<8}  held-out accuracy {r.accuracy[kind]:6.1%}"
              f"   ({r.params[kind]:,} parameters, trained in {r.seconds[kind]:.1f} s)")
    return 0


DEMOS = {"amnesia": (amnesia, 20, 10)}  # name -> (function, default length, default epochs)


def parser():
    """The command line: one sub-command per demo, each with --length --epochs --seed --device."""
    p = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = p.add_subparsers(dest="demo", required=True, metavar="DEMO")
    for name, (fn, length, epochs) in DEMOS.items():
        d = sub.add_parser(name, help=fn.__doc__, description=fn.__doc__)
        d.add_argument("--length", type=int, default=length, help=f"sequence length (default {length})")
        d.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
        d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        d.add_argument("--device", default=None, help="cpu, cuda or mps (default: the GPU if any, else cpu)")
    return p


def main(argv=None):
    """Run one demo; a bad value prints a one-line error and exits with status 2."""
    p = parser()
    args = p.parse_args(argv)
    try:
        return DEMOS[args.demo][0](args)
    except ValueError as err:
        p.exit(2, f"{p.prog} {args.demo}: error: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
