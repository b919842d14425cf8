"""``nnscratch train faces``: train the sliding-window face classifier."""

from nnscratch.cli import HelpFormatter, output_file, positive_int


def register(targets):
    parser = targets.add_parser(
        "faces", help="train the face / non-face classifier for `nnscratch faces`",
        description="Train the sliding-window face classifier on lfw_subset faces "
                    "and face-free scikit-image photographs, with hard-negative "
                    "mining between rounds.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--out", type=output_file(".npz"), default="runs/faces.npz",
                        help="checkpoint to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--rounds", type=positive_int, default=5,
                        help="rounds, with hard-negative mining between them")
    parser.add_argument("--epochs-per-round", type=positive_int, default=3,
                        help="epochs in each round")
    parser.set_defaults(handler=run)


def run(args):
    from nnscratch.faces.train import main

    return main(["--out", args.out, "--seed", str(args.seed), "--rounds",
                 str(args.rounds), "--epochs-per-round", str(args.epochs_per_round)])
