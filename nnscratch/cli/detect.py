"""``nnscratch detect``: find objects in images and draw them."""

import argparse

from nnscratch.cli import HelpFormatter, output_folder, positive_int, probability


def register(subparsers):
    parser = subparsers.add_parser(
        "detect", help="detect objects in images with the YOLO detector",
        description="Run the YOLO detector, decode its output, apply per-class "
                    "non-max suppression and write each image with its boxes (PNG) "
                    "plus detections.json. Without IMAGES it runs on the test split "
                    "of the embedded dataset.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE")
    parser.add_argument("--weights",
                        help="detector checkpoint; the shipped weights if omitted")
    parser.add_argument("--out", type=output_folder, default="detections",
                        help="output folder")
    parser.add_argument("--score-threshold", type=probability, default=0.6,
                        help="drop boxes whose pc x class probability is below this")
    parser.add_argument("--iou-threshold", type=probability, default=0.5,
                        help="NMS drops a box whose IoU with a kept box is >= this")
    parser.add_argument("--image-size", type=positive_int,
                        help="network input side, a multiple of the weights' grid "
                             "stride (8 for the shipped weights; default: the "
                             "training size)")
    parser.add_argument("--limit", type=positive_int, default=16,
                        help="images taken from the embedded test split without IMAGES")
    parser.set_defaults(handler=run)


def run(args):
    import json
    import os
    import time

    from nnscratch.data.images import load_image
    from nnscratch.detector.dataset import DEFAULT_SIZES, embedded_split
    from nnscratch.detector.draw import draw_detections
    from nnscratch.detector.predict import Detector

    if not args.images and args.limit > DEFAULT_SIZES["test"]:
        raise ValueError(
            f"--limit {args.limit} is more than the {DEFAULT_SIZES['test']} images "
            "of the embedded test split; give a smaller --limit, or IMAGE paths"
        )
    detector = Detector.from_checkpoint(args.weights, args.image_size)
    if args.images:
        sources = [(os.path.basename(path), lambda p=path: load_image(p))
                   for path in args.images]
    else:
        test = embedded_split("test", args.limit)
        sources = [(name + ".png", lambda image=image: image)
                   for name, image in zip(test.names, test.images)]

    report = []
    written = set()
    for name, load in sources:
        image = load()
        began = time.perf_counter()
        found = detector.detect(image, args.score_threshold, args.iou_threshold)
        seconds = time.perf_counter() - began
        stem = unique_stem(os.path.splitext(name)[0], written)
        # Made once there is something to write, so that an unreadable first
        # image leaves no empty folder behind.
        os.makedirs(args.out, exist_ok=True)
        out_path = os.path.join(args.out, stem + ".png")
        draw_detections(image, found, detector.class_names).save(out_path)
        report.append({"image": name, "output": out_path, "width": image.shape[1],
                       "height": image.shape[0], "seconds": round(seconds, 4),
                       "detections": found})
        summary = ", ".join(f"{d['class_name']} {d['score']:.2f}" for d in found)
        noun = "object" if len(found) == 1 else "objects"
        print(f"{name}: {len(found)} {noun} ({summary or 'none'}) in "
              f"{seconds * 1000:.0f} ms -> {out_path}")

    json_path = os.path.join(args.out, "detections.json")
    with open(json_path, "w", encoding="utf-8") as stream:
        json.dump({"class_names": list(detector.class_names),
                   "score_threshold": args.score_threshold,
                   "iou_threshold": args.iou_threshold, "images": report},
                  stream, indent=2)
    print(f"wrote {json_path}")
    return 0


def unique_stem(stem, used_stems):
    """Return ``stem``, or ``stem_2``, ``stem_3``, ... when it is used, and record it.

    Two inputs with one name (``a/x.png`` and ``b/x.png``, or ``x.jpg`` and
    ``x.png``) would otherwise write the same output file.
    """
    candidate, number = stem, 1
    while candidate in used_stems:
        number += 1
        candidate = f"{stem}_{number}"
    used_stems.add(candidate)
    return candidate
