"""The deck's five demos from a terminal: python -m helpers {amnesia,deep-dive,training,race,showdown} [--help]."""
import argparse
import sys

from .core.checks import check_int
from .core.tasks import MAX_LENGTH, MIN_LENGTH
from .core.timing import device_name, pick_device
from .core.train import MAX_EPOCHS
from .lessons import language, learning
from .lessons.amnesia import NAMES, amnesia_test
from .lessons.race import MAX_WORDS, TORCH_WAYS, run_race

WIDTH = 64


def banner(title):
    """A boxed title, the way the deck's scripts start."""
    return "\n".join(["=" * WIDTH, title.center(WIDTH), "=" * WIDTH])


def amnesia(args):
    """The amnesia test: who remembers the first letter of a random string?"""
    print(banner("AMNESIA TEST: who remembers the first letter?"))
    print(f"Training an LSTM, an LSTM with forget bias 1 and a Transformer on strings of {args.length} letters, "
          f"{args.epochs} epochs, seed {args.seed}, on {device_name(pick_device(args.device))} ...", flush=True)
    r = amnesia_test(length=args.length, epochs=args.epochs, seed=args.seed, device=args.device)
    print(f"\nTest string (never seen in training):\n  {r.string}")
    print(f"Question: what was the FIRST letter?   Truth: {r.answer}\n")
    for variant, guess in r.predictions.items():
        mark = "✓ right" if guess == r.answer else "✗ wrong"
        print(f"  {NAMES[variant]:<20} answers {guess}  {mark:<8}  held-out accuracy {r.accuracy[variant]:6.1%}, "
              f"{r.verdict(variant)}   ({r.params[variant]:,} parameters, trained in {r.seconds[variant]:.1f} s)")


def deep_dive(args):
    """The deep dive: the attention grid of a trained model on the deck's sentence, Σ per row."""
    print(banner("TRANSFORMER DEEP DIVE: softmax(Q·Kᵀ/√d) on one sentence"))
    print(f"Sentence: {learning.DECK_SENTENCE}\nTraining the corpus language model, {args.epochs} epochs ...",
          flush=True)
    dive = learning.deep_dive(length=args.length, epochs=args.epochs, seed=args.seed, device=args.device)
    print(dive.summary())


def training(args):
    """Watching it learn: a small Transformer learns target sentences, epoch by epoch."""
    print(banner("WATCHING A TRANSFORMER LEARN"))
    print(f"Learning target sentences of up to {args.length} tokens, {args.epochs} epochs ...", flush=True)
    demo = learning.training_demo(epochs=args.epochs, length=args.length, seed=args.seed, device=args.device)
    print(demo.summary())


def race(args):
    """The speed race: an LSTM layer against a self-attention layer, in torch on the CPU and the GPU."""
    ways = TORCH_WAYS if args.device != "cpu" else ("torch-cpu",)
    print(banner("SPEED RACE: LSTM against Transformer"))
    print(f"{args.length:,} words, forward + backward, median of {args.runs} runs ...", flush=True)
    print(run_race(words=args.length, ways=ways, repeats=args.runs, seed=args.seed))
    print("Pure Python and NumPy race in notebook 11, where both layers are written out by hand.")


def showdown(args):
    """The generative showdown: an LSTM and a Transformer language model write from one prompt."""
    print(banner("GENERATIVE SHOWDOWN: LSTM against Transformer"))
    print(f"Training both language models on data/corpus, {args.epochs} epochs ...", flush=True)
    result = language.showdown(prompt=args.prompt, steps=args.length, epochs=args.epochs, temperature=args.temperature,
                      seed=args.seed, device=args.device)
    print(result.summary())


# name -> (function, --length default and range, what --length means, the count option: its name, default, range
# and meaning): --epochs for a demo that trains, --runs for the race, which times
DEMOS = {
    "amnesia": (amnesia, 20, (MIN_LENGTH, MAX_LENGTH), "letters per string",
                ("epochs", 10, (1, MAX_EPOCHS), "training epochs")),
    "deep-dive": (deep_dive, None, (1, len(learning.tokenize(learning.DECK_SENTENCE))),
                  "words of the deck's sentence to read (default: all of them)",
                  ("epochs", 15, (1, MAX_EPOCHS), "training epochs")),
    "training": (training, 11, (2, learning.MAX_TOKENS - 1), "tokens per target sentence",
                 ("epochs", 60, (1, MAX_EPOCHS), "training epochs")),
    "race": (race, 1000, (1, MAX_WORDS), "words in the document",
             ("runs", 5, (1, 100), "timed runs per way (their median counts)")),
    "showdown": (showdown, 15, (1, 1000), "words to generate", ("epochs", 20, (1, MAX_EPOCHS), "training epochs")),
}
DEVICES = {"race": ("cpu", "cuda")}  # demos that run on fewer devices than cpu, cuda and mps


def check_args(args):
    """Raise ValueError naming the option (--length, --epochs or --runs, --seed, --device) whose value is out of
    range, before any demo prints a line."""
    _, _, lengths, _, (count, _, counts, _) = DEMOS[args.demo]
    if args.length is not None:
        check_int("--length", args.length, *lengths)
    check_int(f"--{count}", getattr(args, count), *counts)
    check_int("--seed", args.seed, 0, 2**31 - 1)
    allowed = DEVICES.get(args.demo, ("cpu", "cuda", "mps"))
    if args.device is not None and args.device.split(":")[0] not in allowed:
        raise ValueError(f"--device must be one of {list(allowed)} for {args.demo} (or left out), got {args.device!r}")
    try:
        pick_device(args.device)
    except ValueError as err:
        raise ValueError(f"--{err}") from None


def parser():
    """The command line: one sub-command per demo, each with --length, --epochs (or the race's --runs), --seed and
    --device."""
    p = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = p.add_subparsers(dest="demo", required=True, metavar="DEMO")
    for name, (fn, length, lengths, length_help, (count, default, counts, count_help)) in DEMOS.items():
        d = sub.add_parser(name, help=fn.__doc__, description=fn.__doc__)
        shown = "" if length is None else f"; default {length}"
        d.add_argument("--length", type=int, default=length, help=f"{length_help}: {lengths[0]} to {lengths[1]}{shown}")
        d.add_argument(f"--{count}", type=int, default=default,
                       help=f"{count_help}: {counts[0]} to {counts[1]}; default {default}")
        d.add_argument("--seed", type=int, default=0, help="random seed: 0 to 2147483647; default 0")
        devices = " or ".join(DEVICES.get(name, ("cpu", "cuda", "mps")))
        d.add_argument("--device", default=None,
                       help=f"{devices}; default: cuda when there is a GPU, else cpu (mps only when asked)")
        if name == "showdown":
            d.add_argument("--prompt", default="We propose a", help="the words to start from")
            d.add_argument("--temperature", type=float, default=0.0, help="0 = always the likeliest word")
    return p


def main(argv=None):
    """Run one demo; a bad value prints a one-line error and exits with status 2."""
    p = parser()
    args = p.parse_args(argv)
    try:
        check_args(args)
        DEMOS[args.demo][0](args)
    except ValueError as err:
        p.exit(2, f"{p.prog} {args.demo}: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
