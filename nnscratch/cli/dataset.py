"""``nnscratch dataset export``: write the embedded dataset in YOLO format."""

from nnscratch.cli import non_negative_int, output_folder


def register(subparsers):
    parser = subparsers.add_parser(
        "dataset", help="export the embedded detection dataset",
        description="Write the embedded detection dataset (train, val and test "
                    "splits) as a YOLO-format folder with data.yaml, so other tools "
                    "can read it.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    export = actions.add_parser("export", help="write the YOLO-format folder")
    export.add_argument("out", metavar="DIR", type=output_folder)
    export.add_argument("--seed", type=non_negative_int, default=0, help="recipe seed")
    export.set_defaults(handler=run)


def run(args):
    from nnscratch.detector.dataset import CLASS_NAMES, RECIPE_VERSION, embedded_split
    from nnscratch.detector.yolo_format import write_yolo_dataset

    splits = {name: embedded_split(name, seed=args.seed)
              for name in ("train", "val", "test")}
    path = write_yolo_dataset(args.out, splits, CLASS_NAMES)
    counts = ", ".join(f"{name} {len(data)}" for name, data in splits.items())
    print(f"wrote recipe version {RECIPE_VERSION} ({counts} images) to {path}")
    return 0
