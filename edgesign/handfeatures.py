"""Hand landmarks -> the landmark classifier's input vector (numpy only; training and the device share it).

Every hand is first made a right hand (mirrored by MediaPipe's handedness score), then described in its
own frame, so the signer's position, distance and the camera's roll matter little:

- the 21 world landmarks, wrist at the origin, scaled by the wrist -> middle-finger-MCP length and
  rotated into the palm's frame (y along the palm, z its normal): 63 values;
- that frame's orientation relative to the camera (a rotation matrix, 9 values) and the palm's
  direction in the image (2): letters that differ only by where the hand points (G/H, K/P, U/H);
- distances from the thumb tip to the 20 other points (thumb placement: A, E, M, N, S, T) and
  between the five fingertips: 30 values;
- the bending angle at each of the 15 finger joints.
"""

from __future__ import annotations

import numpy as np

FEATURE_VERSION = "world-v1"
FINGERS = [[0, 1, 2, 3, 4], [0, 5, 6, 7, 8], [0, 9, 10, 11, 12], [0, 13, 14, 15, 16], [0, 17, 18, 19, 20]]
TIPS = [4, 8, 12, 16, 20]
_TIP_PAIRS = [(a, b) for i, a in enumerate(TIPS) for b in TIPS[i + 1:]]
_THUMB_TO = [i for i in range(21) if i != 4]
N_FEATURES = 63 + 9 + 2 + len(_THUMB_TO) + len(_TIP_PAIRS) + 15


SIGNING_HANDS = ("right", "left", "auto")  # the hand a person signs with; auto: each frame's handedness score


def handedness(hand: str, score: float) -> float:
    """The handedness score the features take for a person signing with ``hand``: 1 for right, 0 for left, ``score``
    (the frame's own, from the landmark model) for auto."""
    return {"right": 1.0, "left": 0.0}.get(hand, score)


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1 (a zero vector stays zero)."""
    return v / max(float(np.linalg.norm(v)), 1e-9)


def canonical(world: np.ndarray, image_xy: np.ndarray, right: float) -> tuple[np.ndarray, np.ndarray]:
    """(world, image x/y) of a right hand: a left hand (``right`` < 0.5) is mirrored in x."""
    if right >= 0.5:
        return world, image_xy
    flip = np.array([-1, 1, 1], np.float32)
    return world * flip, image_xy * flip[:2]


def palm_frame(points: np.ndarray) -> np.ndarray:
    """Rows x, y, z of the palm's frame: y wrist -> middle MCP, z the palm's normal."""
    y = unit(points[9])
    z = unit(np.cross(points[5], points[17]))
    x = unit(np.cross(y, z))
    return np.stack([x, y, np.cross(x, y)])


def joint_angles(points: np.ndarray) -> np.ndarray:
    out = []
    for chain in FINGERS:
        bones = np.diff(points[chain], axis=0)
        bones /= np.maximum(np.linalg.norm(bones, axis=1, keepdims=True), 1e-9)
        cos = np.clip((bones[:-1] * bones[1:]).sum(1), -1.0, 1.0)
        out.append(np.arccos(cos))
    return np.concatenate(out)


def hand_features(world: np.ndarray, image_xy: np.ndarray, right: float) -> np.ndarray:
    """The float32 feature vector (``N_FEATURES``) of one hand."""
    world, image_xy = canonical(np.asarray(world, np.float32), np.asarray(image_xy, np.float32), right)
    p = world - world[0]
    p = p / max(float(np.linalg.norm(p[9])), 1e-9)
    frame = palm_frame(p)
    local = p @ frame.T
    direction = unit(image_xy[9] - image_xy[0])
    thumb = np.linalg.norm(p[_THUMB_TO] - p[4], axis=1)
    tips = np.array([np.linalg.norm(p[a] - p[b]) for a, b in _TIP_PAIRS], np.float32)
    return np.concatenate([local.ravel(), frame.ravel(), direction, thumb, tips, joint_angles(p)]).astype(np.float32)
