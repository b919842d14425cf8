"""Data: image files, bundled real datasets, readers and augmentation."""
