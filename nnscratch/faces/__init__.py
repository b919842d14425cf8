"""Face detection by convolutional sliding windows.

A small ConvNet (``model.py``) learns face / non-face on 24 x 24 grey windows
(``data.py``), trained with rounds of hard-negative mining (``train.py``).
``detect.py`` turns its fully connected head into convolutions and runs it
over an image pyramid, one pass per level, then applies non-max suppression.
"""

from nnscratch.faces.detect import (
    DEFAULT_THRESHOLD,
    FaceDetector,
    detect_faces,
    load_face_detector,
)
from nnscratch.faces.model import build_face_classifier

__all__ = [
    "DEFAULT_THRESHOLD",
    "FaceDetector",
    "build_face_classifier",
    "detect_faces",
    "load_face_detector",
]
