"""Identity readers, the whale CSV layout and the validation split."""

import numpy as np
import pytest

from nnscratch.siamese.data import (
    load_images,
    read_image_folder,
    read_whale_csv,
    split_validation,
)
from nnscratch.siamese.mining import UNKNOWN_LABEL

from .identities import make_identity_folder


@pytest.fixture
def identity_folder(tmp_path):
    return make_identity_folder(tmp_path / "people", per_identity=3)


def write_whale_folder(root, rows):
    root.mkdir()
    for image, _ in rows:
        if image:
            (root / image).write_bytes(b"")
    lines = ["Image,Id"] + [f"{image},{identity}" for image, identity in rows]
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    return root / "train.csv"


def test_image_folder_reads_identities_in_order(identity_folder):
    (identity_folder / "notes.txt").write_text("ignored")
    (identity_folder / "camera" / "readme.txt").write_text("ignored")
    dataset = read_image_folder(identity_folder)
    assert dataset.identities == ["astronaut", "camera", "chelsea", "coffee"]
    assert len(dataset.paths) == 12
    np.testing.assert_array_equal(dataset.labels, np.repeat(np.arange(4), 3))
    assert all(path.endswith(".png") for path in dataset.paths)


def test_image_folder_rejects_empty_identity(identity_folder):
    (identity_folder / "nobody").mkdir()
    with pytest.raises(ValueError, match="nobody"):
        read_image_folder(identity_folder)


def test_image_folder_rejects_missing_root(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_image_folder(tmp_path / "absent")


def test_load_images_resizes_to_network_input(identity_folder):
    dataset = read_image_folder(identity_folder)
    grey = load_images(dataset.paths[:2], image_size=10, channels=1)
    colour = load_images(dataset.paths[:2], image_size=12, channels=3)
    assert grey.shape == (2, 1, 10, 10)
    assert colour.shape == (2, 3, 12, 12)
    assert grey.dtype == np.float32
    assert grey.min() >= 0
    assert grey.max() <= 1


def test_whale_csv_maps_new_whale_to_unknown(tmp_path):
    rows = [("a.jpg", "w_1"), ("b.jpg", "new_whale"), ("c.jpg", "w_0"),
            ("d.jpg", "w_1")]
    csv_path = write_whale_folder(tmp_path / "whales", rows)
    dataset = read_whale_csv(csv_path)
    assert dataset.identities == ["w_0", "w_1"]
    np.testing.assert_array_equal(dataset.labels, [1, UNKNOWN_LABEL, 0, 1])
    assert dataset.paths[0].endswith("a.jpg")


def test_whale_csv_missing_file_names_row(tmp_path):
    csv_path = write_whale_folder(tmp_path / "whales", [("a.jpg", "w_1")])
    with open(csv_path, "a") as stream:
        stream.write("gone.jpg,w_2\n")
    with pytest.raises(ValueError, match=r"line 3: image file 'gone.jpg' not found"):
        read_whale_csv(csv_path)


def test_whale_csv_unknown_identity_names_row(tmp_path):
    rows = [("a.jpg", "w_1"), ("b.jpg", "new_whale"), ("c.jpg", "w_9")]
    csv_path = write_whale_folder(tmp_path / "whales", rows)
    with pytest.raises(ValueError, match=r"line 4: unknown identity 'w_9'"):
        read_whale_csv(csv_path, known_identities=["w_1"])


def test_whale_csv_empty_identity_names_row(tmp_path):
    csv_path = write_whale_folder(tmp_path / "whales", [("a.jpg", "w_1"),
                                                        ("b.jpg", "")])
    with pytest.raises(ValueError, match="line 3: the image or the identity is empty"):
        read_whale_csv(csv_path)


def test_whale_csv_rejects_wrong_header(tmp_path):
    folder = tmp_path / "whales"
    folder.mkdir()
    (folder / "train.csv").write_text("file,label\na.jpg,w_1\n")
    with pytest.raises(ValueError, match="line 1.*'Image' and 'Id'"):
        read_whale_csv(folder / "train.csv")


def test_whale_csv_reads_separate_image_folder(tmp_path):
    images = tmp_path / "train"
    csv_path = write_whale_folder(images, [("a.jpg", "w_1"), ("b.jpg", "w_1")])
    moved = tmp_path / "labels.csv"
    csv_path.rename(moved)
    dataset = read_whale_csv(moved, image_dir=images)
    assert len(dataset.paths) == 2


def test_split_validation_holds_out_per_identity():
    labels = np.array([0] * 10 + [1] * 2 + [2] * 5 + [UNKNOWN_LABEL] * 4)
    train, validation = split_validation(labels, 0.2, np.random.default_rng(0))
    assert len(np.intersect1d(train, validation)) == 0
    assert len(train) + len(validation) == len(labels)
    counts = {label: int((labels[validation] == label).sum()) for label in (0, 1, 2)}
    assert counts == {0: 2, 1: 0, 2: 1}
    assert (labels[validation] != UNKNOWN_LABEL).all()
