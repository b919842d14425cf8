"""The main job: a YOLO detector trained from scratch on real images."""
