"""Payloads that are n-d arrays (meshes, embeddings, video) and audio as 16-bit PCM WAV."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import numpy as np

from localtrack._writer.values import BadValue


def tensor_struct(array: np.ndarray | None, dtype: str | None = None) -> dict[str, Any] | None:
    """The Parquet struct {dtype, shape, data} for an array (C order, little-endian)."""
    if array is None:
        return None
    arr = np.ascontiguousarray(array if dtype is None else array.astype(dtype))
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return {"dtype": arr.dtype.str.lstrip("<|="), "shape": list(arr.shape), "data": arr.tobytes()}


def _batched3(name: str, arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None:
        return None
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise BadValue(f"mesh {name} must have shape (B, N, 3), got {arr.shape}")
    return arr


def mesh_payload(
    vertices: np.ndarray,
    colors: np.ndarray | None,
    faces: np.ndarray | None,
    config: dict[str, Any] | None,
) -> dict[str, Any]:
    v = _batched3("vertices", vertices)
    assert v is not None
    c = _batched3("colors", colors)
    f = _batched3("faces", faces)
    if c is not None and c.shape[:2] != v.shape[:2]:
        raise BadValue(f"mesh colors {c.shape} do not match vertices {v.shape}")
    if f is not None and f.size and (f.min() < 0 or f.max() >= v.shape[1]):
        raise BadValue(
            f"mesh faces index vertex {int(f.max())} but there are only {v.shape[1]} vertices"
        )
    return {
        "vertices": tensor_struct(v, "float32"),
        "colors": tensor_struct(None if c is None else np.clip(c, 0, 255), "uint8"),
        "faces": tensor_struct(f, "int32"),
        "config": json.dumps(config, default=str) if config is not None else None,
    }


def embedding_payload(
    mat: np.ndarray,
    metadata: list[Any] | None,
    label_img: np.ndarray | None,
    metadata_header: list[str] | None,
) -> dict[str, Any]:
    if mat.ndim != 2:
        raise BadValue(f"an embedding matrix must be 2-d (N, D), got shape {mat.shape}")
    if metadata is not None and len(metadata) != mat.shape[0]:
        raise BadValue(f"{len(metadata)} metadata rows for {mat.shape[0]} embedding points")
    if label_img is not None and (label_img.ndim != 4 or label_img.shape[0] != mat.shape[0]):
        raise BadValue(
            f"label_img must be (N, C, H, W) with N={mat.shape[0]}, got {label_img.shape}"
        )
    return {
        "mat": tensor_struct(mat, "float32"),
        "metadata": json.dumps(metadata, default=str) if metadata is not None else None,
        "metadata_header": json.dumps(metadata_header) if metadata_header is not None else None,
        "label_img": tensor_struct(label_img, "float32"),
    }


def video_payload(video: np.ndarray, fps: float) -> dict[str, Any]:
    """(N, T, C, H, W) video batch → (T, H, W, C) uint8 frames, batch tiled as a grid."""
    from localtrack._writer.images import make_grid, to_uint8

    if video.ndim != 5:
        raise BadValue(f"a video must be (N, T, C, H, W), got shape {video.shape}")
    t, c = video.shape[1], video.shape[2]
    if c not in (1, 3, 4):
        raise BadValue(f"video frames must have 1, 3 or 4 channels, got {c}")
    frames = np.stack([make_grid(video[:, i]) for i in range(t)])  # (T, C, H', W')
    return {"fps": float(fps), "frames": tensor_struct(to_uint8(frames.transpose(0, 2, 3, 1)))}


def audio_payload(sound: np.ndarray, sample_rate: int) -> dict[str, Any]:
    """Samples in [-1, 1], shape (L,), (1, L) or (C, L), as a 16-bit PCM WAV file."""
    arr = np.asarray(sound, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise BadValue(f"audio must be (L,) or (channels, L), got shape {np.shape(sound)}")
    pcm = (np.clip(np.nan_to_num(arr), -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(arr.shape[0])
        wav.setsampwidth(2)
        wav.setframerate(int(sample_rate))
        wav.writeframes(pcm.T.tobytes())
    return {
        "sample_rate": int(sample_rate),
        "num_samples": int(arr.shape[1]),
        "channels": int(arr.shape[0]),
        "format": "wav",
        "data": buf.getvalue(),
    }
