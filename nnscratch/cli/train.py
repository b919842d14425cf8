"""``nnscratch train classifier|detector``: train one of the course's networks."""


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train the digit classifier, the YOLO detector or the face classifier",
        description="Train one of the course's networks on bundled real images.",
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET")
    targets.required = True

    from nnscratch.cli import _train_classifier, _train_detector, _train_faces

    _train_classifier.register(targets)
    _train_detector.register(targets)
    _train_faces.register(targets)
