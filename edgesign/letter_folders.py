"""`enrol --from`: a letter folder's pictures in recording order, photos and the frames of videos of the letter.

A user who films each letter with a phone has one short video per letter folder, not photos; its frames are taken
spread over the recording as photos are. Frames are decoded in order, one video open at a time, never all at once
(a ten-second 1080p clip is 300 frames of 6 MB).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .data import IMAGE_SUFFIXES, class_folders, natural_key
from .errors import EdgesignError
from .sources import VIDEO_SUFFIXES, opencv_frames, video_frame_count


def letter_folders(root: Path) -> dict[str, list[Path]]:
    """Each letter folder of ``root`` (by name) and its photos and videos, photos first, each in name order."""
    if not root.is_dir():
        raise EdgesignError(f"--from needs a folder of letter folders (A/, B/, ...), not {root}")
    folders = {}
    for d in class_folders(root):
        files = sorted((f for f in d.iterdir() if f.is_file()), key=natural_key)
        photos = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
        folders[d.name] = photos + [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    if not any(folders.values()):
        raise EdgesignError(f"no photos or videos in {root}: expected one folder per letter (A/, B/, ...)")
    return folders


class LetterPictures:
    """One letter folder's pictures: its photos, then each video's frames. ``picture(i)`` gives the i-th image;
    within a video, indices go forward only."""

    def __init__(self, files: list[Path]) -> None:
        # (file, its frames: None for a photo); a video that holds no frame adds none
        self._parts = [(f, video_frame_count(f) if f.suffix.lower() in VIDEO_SUFFIXES else None) for f in files]
        self._starts = np.cumsum([0] + [1 if n is None else n for _, n in self._parts])
        self._video: tuple[Path, Iterator] | None = None
        self._next = 0

    def __len__(self) -> int:
        return int(self._starts[-1])

    def picture(self, i: int):
        from .preprocess import open_image

        part = int(np.searchsorted(self._starts, i, side="right")) - 1
        path, frames = self._parts[part]
        if frames is None:
            return open_image(path)
        k = i - int(self._starts[part])
        if self._video is None or self._video[0] != path or k < self._next:
            self.close()
            self._video, self._next = (path, opencv_frames(str(path), path.name)), 0
        for frame in self._video[1]:
            self._next = frame.index + 1
            if frame.index == k:
                return frame.image
        raise EdgesignError(f"{path} ended before its frame {k} (it said it had {frames})")

    def close(self) -> None:
        if self._video is not None:
            self._video[1].close()
            self._video = None
