"""The deck's five demos from a terminal: python -m helpers {amnesia,deep-dive,training,race,showdown}."""
import argparse
import sys

from .core.checks import check_int
from .core.tasks import MAX_LENGTH
from .core.timing import device_name, pick_device
from .core.train import MAX_EPOCHS
from .lessons import language, learning
from .lessons import race as speed
from .lessons.amnesia import NAMES, amnesia_test

WIDTH = 64


def banner(title):
    """A boxed title, the way the deck's scripts start."""
    return "\n".join(["=" * WIDTH, title.center(WIDTH), "=" * WIDTH])


def amnesia(args):
    """amnesia_test_demo.py: who remembers the first letter of a random string?"""
    check_int("length", args.length, 2, MAX_LENGTH)
    check_int("epochs", args.epochs, 1, MAX_EPOCHS)
    print(banner("AMNESIA TEST: who remembers the first letter?"))
    print(f"Training an LSTM, an LSTM with forget bias 1 and a Transformer on strings of {args.length} letters, "
          f"{args.epochs} epochs, seed {args.seed}, on {device_name(pick_device(args.device))} ...", flush=True)
    r = amnesia_test(length=args.length, epochs=args.epochs, seed=args.seed, device=args.device)
    print(f"\nTest string (never seen in training):\n  {r.string}")
    print(f"Question: what was the FIRST letter?   Truth: {r.answer}\n")
    for kind, guess in r.predictions.items():
        mark = "✓ right" if guess == r.answer else "✗ wrong"
        print(f"  {NAMES[kind]:<20} answers {guess}  {mark:<8}  held-out accuracy {r.accuracy[kind]:6.1%}, "
              f"{r.verdict(kind)}   ({r.params[kind]:,} parameters, trained in {r.seconds[kind]:.1f} s)")


def deep_dive(args):
    """transformer_deep_dive.py: the attention grid of a trained model on the deck's sentence, Σ per row."""
    print(banner("TRANSFORMER DEEP DIVE: softmax(Q·Kᵀ/√d) on one sentence"))
    print(f"Sentence: {learning.DECK_SENTENCE}\nTraining the corpus language model, {args.epochs} epochs ...", flush=True)
    dive = learning.deep_dive(length=args.length, epochs=args.epochs, seed=args.seed, device=args.device)
    print(dive.summary())


def training(args):
    """transformer_training_demo.py: a small Transformer learns target sentences, epoch by epoch."""
    print(banner("WATCHING A TRANSFORMER LEARN"))
    print(f"Learning target sentences of up to {args.length} tokens, {args.epochs} epochs ...", flush=True)
    demo = learning.training_demo(epochs=args.epochs, length=args.length, seed=args.seed, device=args.device)
    print(demo.summary())


def race(args):
    """lstm_vs_transformer_race.py: an LSTM layer against a self-attention layer, in torch on the CPU and the GPU."""
    if args.device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda (or left out) for the race, got {args.device!r}")
    ways = speed.TORCH_WAYS if args.device != "cpu" else ("torch-cpu",)
    print(banner("SPEED RACE: LSTM against Transformer"))
    print(f"{args.length:,} words, forward + backward, median of {args.epochs} runs ...", flush=True)
    print(speed.race(words=args.length, ways=ways, repeats=args.epochs, seed=args.seed))
    print("Pure Python and NumPy race in notebook 11, where both layers are written out by hand.")


def showdown(args):
    """The generative showdown: an LSTM and a Transformer language model write from one prompt."""
    print(banner("GENERATIVE SHOWDOWN: LSTM against Transformer"))
    print(f"Training both language models on data/corpus, {args.epochs} epochs ...", flush=True)
    result = language.showdown(prompt=args.prompt, steps=args.length, epochs=args.epochs, temperature=args.temperature,
                      seed=args.seed, device=args.device)
    print(result.summary())


# name -> (function, default length, default epochs, what --length and --epochs mean)
DEMOS = {
    "amnesia": (amnesia, 20, 10, "letters per string", "training epochs"),
    "deep-dive": (deep_dive, None, 15, "words of the sentence (default: all)", "training epochs"),
    "training": (training, 11, 60, "tokens per target sentence", "training epochs"),
    "race": (race, 1000, 5, "words in the document", "timed runs per way (the median counts)"),
    "showdown": (showdown, 15, 20, "words to generate", "training epochs"),
}


def parser():
    """The command line: one sub-command per demo, each with --length --epochs --seed --device."""
    p = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = p.add_subparsers(dest="demo", required=True, metavar="DEMO")
    for name, (fn, length, epochs, length_help, epochs_help) in DEMOS.items():
        d = sub.add_parser(name, help=fn.__doc__, description=fn.__doc__)
        d.add_argument("--length", type=int, default=length, help=f"{length_help} (default {length})")
        d.add_argument("--epochs", type=int, default=epochs, help=f"{epochs_help} (default {epochs})")
        d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        d.add_argument("--device", default=None, help="cpu, cuda or mps (default: the GPU if any, else cpu)")
        if name == "showdown":
            d.add_argument("--prompt", default="We propose a", help="the words to start from")
            d.add_argument("--temperature", type=float, default=0.0, help="0 = always the likeliest word")
    return p


def main(argv=None):
    """Run one demo; a bad value prints a one-line error and exits with status 2."""
    p = parser()
    args = p.parse_args(argv)
    try:
        DEMOS[args.demo][0](args)
    except ValueError as err:
        p.exit(2, f"{p.prog} {args.demo}: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
