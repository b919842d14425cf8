"""``nnscratch faces``: find faces in a photograph by convolutional sliding windows."""

import json
import os
import time

from nnscratch.cli import IMAGE_SUFFIXES, output_file, positive_float, probability


def register(subparsers):
    """Add the ``faces`` parser."""
    parser = subparsers.add_parser(
        "faces", help="box the faces in a photograph (sliding-window ConvNet)",
        description=(
            "Run the face classifier, turned fully convolutional, over an image "
            "pyramid of a photograph, then non-max suppression. Writes the "
            "photograph with the faces boxed, and optionally the boxes and "
            "scores as JSON. Without IMAGE it uses scikit-image's astronaut."
        ),
    )
    parser.add_argument("image", nargs="?", metavar="IMAGE",
                        help="photograph to search (default: skimage.data.astronaut)")
    parser.add_argument("-o", "--out", required=True, metavar="OUT.png",
                        type=output_file(*IMAGE_SUFFIXES),
                        help="where to write the photograph with the boxes drawn")
    parser.add_argument("--json", metavar="OUT.json", type=output_file(".json"),
                        help="also write the boxes (pixels, x1 y1 x2 y2) and scores")
    parser.add_argument("--threshold", type=probability, default=None, metavar="T",
                        help="face probability a window needs, in [0, 1] "
                             "(default: the detector's, 0.98)")
    parser.add_argument("--iou-threshold", type=probability, default=None,
                        metavar="IOU",
                        help="non-max suppression drops a box overlapping a better "
                             "one by more than this IoU (default 0.3)")
    parser.add_argument("--min-size", type=positive_float, default=None,
                        metavar="PIXELS",
                        help="smallest face side searched, in pixels (default 24)")
    parser.add_argument("--weights", metavar="W",
                        help="checkpoint written by `nnscratch train faces` "
                             "(default: the weights shipped with nnscratch)")
    parser.set_defaults(handler=run)
    return parser


def run(args):
    """Detect, draw, save; return the exit status."""
    import numpy as np

    from nnscratch.data.images import load_image, save_image
    from nnscratch.faces import detect
    from nnscratch.faces.draw import detections_to_dict, draw_faces

    settings = {
        "threshold": detect.DEFAULT_THRESHOLD if args.threshold is None
        else args.threshold,
        "iou_threshold": detect.DEFAULT_IOU_THRESHOLD if args.iou_threshold is None
        else args.iou_threshold,
        "min_size": float(detect.FACE_WINDOW if args.min_size is None
                          else args.min_size),
    }
    if args.image is None:
        import skimage.data

        image = skimage.data.astronaut()
        source = "skimage.data.astronaut"
    else:
        image = load_image(args.image, mode="RGB")
        source = os.fspath(args.image)

    detector = detect.load_face_detector(args.weights)
    start = time.perf_counter()
    boxes, scores = detector.detect(image, **settings)
    elapsed = time.perf_counter() - start

    save_image(args.out, draw_faces(image, boxes, scores))
    if args.json is not None:
        settings["weights"] = args.weights or "shipped"
        report = detections_to_dict(boxes, scores, np.shape(image), source, settings)
        folder = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2)
            stream.write("\n")

    print(f"{source}: {len(boxes)} face(s) in {elapsed:.2f} s "
          f"(threshold {settings['threshold']:.3f})")
    for (x1, y1, x2, y2), score in zip(boxes, scores):
        print(f"  box x1={x1:.1f} y1={y1:.1f} x2={x2:.1f} y2={y2:.1f} px, "
              f"score {score:.4f}")
    print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return 0
