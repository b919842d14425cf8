"""Object detection from hand-written pieces: boxes, NMS, anchors, YOLO, mAP.

Boxes are pixel xyxy (x1 <= x2, y1 <= y2) unless a function's name or
docstring states another format. ``boxes`` defines the coordinate convention.

==============  ==========================================================
boxes           formats, area, clipping, small-box removal
iou             pairwise IoU and generalised IoU
nms             greedy non-max suppression, per class
anchors         k-means anchor shapes with distance 1 - IoU
localization    one object per image: target [pc, bx, by, bh, bw, c] and loss
landmarks       a head for L (x, y) points and its loss
yolo            YOLO grid targets, output layout and decoding
yolo_loss       the YOLO loss on raw outputs, with its gradient
sliding         naive and convolutional sliding windows
metrics         VOC and COCO average precision, mAP
==============  ==========================================================
"""

from nnscratch.detection.anchors import kmeans_anchors, shape_iou
from nnscratch.detection.boxes import (
    box_area,
    box_convert,
    clip_boxes_to_image,
    remove_small_boxes,
)
from nnscratch.detection.iou import box_iou, generalized_box_iou
from nnscratch.detection.landmarks import LandmarkHead, landmark_loss
from nnscratch.detection.localization import localization_loss, localization_target
from nnscratch.detection.metrics import (
    average_precision_coco,
    average_precision_voc,
    mean_average_precision,
)
from nnscratch.detection.nms import batched_nms, nms
from nnscratch.detection.sliding import (
    sliding_window_conv,
    sliding_window_naive,
    sliding_window_stride,
)
from nnscratch.detection.yolo import (
    yolo_decode,
    yolo_decode_targets,
    yolo_encode,
    yolo_grid_to_output,
    yolo_output_to_grid,
)
from nnscratch.detection.yolo_loss import yolo_loss, yolo_loss_terms

__all__ = [
    "LandmarkHead",
    "average_precision_coco",
    "average_precision_voc",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes_to_image",
    "generalized_box_iou",
    "kmeans_anchors",
    "landmark_loss",
    "localization_loss",
    "localization_target",
    "mean_average_precision",
    "nms",
    "remove_small_boxes",
    "shape_iou",
    "sliding_window_conv",
    "sliding_window_naive",
    "sliding_window_stride",
    "yolo_decode",
    "yolo_decode_targets",
    "yolo_encode",
    "yolo_grid_to_output",
    "yolo_loss",
    "yolo_loss_terms",
    "yolo_output_to_grid",
]
