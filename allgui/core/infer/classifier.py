"""Classifying cell images with an exported model, without torch.

An image is prepared exactly as in training (decode to 8-bit RGB, resize to
the model's size with the area filter: :func:`allgui.core.dataset.imaging.prepare_image`);
the model itself turns the 8-bit pixels into normalised floats, so nothing
here can drift from what the model was trained on. The model also returns a
Grad-CAM map per class, which is scaled to 0..1 and brought up to the
original image's size for the predicted class (a very large image is shown,
and its heatmap drawn, at most :data:`VIEW_SIDE` pixels a side, so a folder
of 9000 px scans does not take gigabytes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from allgui.core.dataset.imaging import read_rgb, resize_area, to_rgb, upright_rgb
from allgui.core.errors import AllguiError, ImageReadError
from allgui.core.infer.limits import (
    RUN_SECONDS,
    BoundedRunner,
    check_margin,
    check_probabilities,
)
from allgui.core.infer.model_file import (
    INPUT_NAME,
    OUTPUT_CAM,
    OUTPUT_FEATURES,
    OUTPUT_LOGITS,
    OUTPUT_PROBABILITIES,
    ModelInfo,
)
from allgui.core.infer.providers import open_session

ImageLike = str | os.PathLike | np.ndarray | Image.Image

# An image smaller than this a side holds no cell to judge: resized up to the
# model's input it would still get a confident-looking answer.
MIN_SIDE = 16
# The image kept for showing and for drawing the heatmap, at most this many
# pixels a side (the heatmap comes from a feature map of a few pixels anyway).
VIEW_SIDE = 1024


@dataclass(frozen=True)
class PreparedImage:
    """One image ready for the model, with what is needed to show its heatmap."""

    source: str  # the file it came from; '' for an image handed over in memory
    pixels: np.ndarray = field(repr=False, compare=False)  # size x size x 3 uint8
    # H x W x 3 uint8 as decoded, scaled down to VIEW_SIDE a side when larger
    original: np.ndarray = field(repr=False, compare=False)


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image."""

    source: str
    label: str  # the predicted class
    class_index: int
    probabilities: Mapping[str, float]  # per class, in the model's class order
    margin: float  # top probability minus the second: small means unsure
    uncertain: bool  # margin below the model's (or the caller's) threshold
    # Grad-CAM for the predicted class, H x W float32 in 0..1 at the size of
    # PreparedImage.original; None when not asked for.
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def probability(self) -> float:
        return self.probabilities[self.label]


def prepare(image: ImageLike, size: int) -> PreparedImage:
    """Decode (files) or convert (arrays, Pillow images) and resize to ``size``.

    Raises ImageReadError for an unreadable file or an image too small to
    classify, AllguiError for an array that is not an image.
    """
    if isinstance(image, (str, os.PathLike)):
        source = str(image)
        if os.path.exists(image) and not os.path.isfile(image):  # a FIFO would block the read
            raise ImageReadError(source, "not an ordinary file")
        rgb = read_rgb(image)
    elif isinstance(image, Image.Image):
        source = ""
        rgb = upright_rgb(image)  # as read_rgb does for a file: EXIF rotation, 16-bit scaled
    elif isinstance(image, np.ndarray):
        source = ""
        rgb = to_rgb(_array_to_image(image))
    else:
        raise AllguiError(f"Cannot classify a {type(image).__name__}; give an image file.")
    width, height = rgb.size
    if min(width, height) < MIN_SIDE:
        raise ImageReadError(
            source or "the image",
            f"image too small to classify ({width} x {height} px; at least {MIN_SIDE} a side)",
        )
    pixels = resize_area(rgb, size)
    scale = VIEW_SIDE / max(width, height)
    if scale < 1:  # a new image: the caller's own is left as it is
        shown = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = rgb.resize(shown, Image.Resampling.BOX)
    return PreparedImage(source, pixels, np.asarray(rgb, dtype=np.uint8))


def _array_to_image(arr: np.ndarray) -> Image.Image:
    """The Pillow image a file with these pixels would decode to, so that
    :func:`to_rgb` treats it as it treats the file."""
    if arr.ndim == 2 and arr.dtype == np.uint16:  # a 16-bit grayscale picture
        return Image.fromarray(np.ascontiguousarray(arr))  # mode I;16
    if arr.dtype != np.uint8:
        raise AllguiError(
            f"Cannot classify an array of {arr.dtype}; give 8-bit pixels (uint8), "
            "or 16-bit (uint16) for a grayscale picture.",
        )
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 2:
        return Image.fromarray(arr, "L")
    if arr.ndim == 3 and arr.shape[2] == 3:
        return Image.fromarray(arr, "RGB")
    if arr.ndim == 3 and arr.shape[2] == 4:
        return Image.fromarray(arr, "RGBA")
    raise AllguiError(
        f"Cannot classify an array of shape {arr.shape}; give height x width x 3 pixels.",
    )


def temperature_scaled(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) in float64, then float32 as the graph's own output."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def upsample_heatmap(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a Grad-CAM map (bilinear) to ``size`` = (height, width) and scale it to 0..1."""
    cam = np.maximum(np.asarray(cam, dtype=np.float32), 0.0)
    height, width = size
    resized = np.asarray(
        Image.fromarray(cam).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32
    )
    top = float(resized.max())
    if top <= 0:
        return np.zeros((height, width), dtype=np.float32)
    return np.clip(resized / top, 0.0, 1.0)


class Classifier:
    """A loaded model that classifies images.

    ``device``: 'auto', 'cpu' or 'gpu' (see :mod:`allgui.core.infer.providers`).
    ``engine``: what runs it on the CPU, 'onnxruntime' or 'openvino' (when
    installed and its answers agree; :attr:`engine` says what runs it).
    ``uncertain_margin`` overrides the threshold stored in the model.
    ``run_seconds`` bounds one batch's run (a model that does not end is stopped).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        device: str = "auto",
        threads: int | None = None,
        uncertain_margin: float | None = None,
        run_seconds: float = RUN_SECONDS,
        engine: str = "onnxruntime",
    ) -> None:
        if uncertain_margin is not None:
            uncertain_margin = check_margin(uncertain_margin, below_one=False)
        opened = open_session(path, device=device, threads=threads, engine=engine)
        self.info: ModelInfo = opened.info
        name = Path(self.info.path).name
        self._session = opened.session
        self._runner = BoundedRunner(opened.session, name, run_seconds)
        self.providers: tuple[str, ...] = opened.providers
        self.device_note: str = opened.note
        self.engine: str = opened.engine  # 'onnxruntime' or 'openvino': what runs it
        self.uncertain_margin = (
            self.info.uncertain_margin if uncertain_margin is None else uncertain_margin
        )
        # the model's rule (checked when its file was read), with the margin applied
        self.rule = replace(self.info.rule, margin=self.uncertain_margin)

    @property
    def applied_info(self) -> ModelInfo:
        """The model's description with the margin actually applied (``uncertain_margin``)."""
        return replace(self.info, uncertain_margin=self.uncertain_margin)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    def prepare(self, image: ImageLike) -> PreparedImage:
        return prepare(image, self.info.input_size)

    def classify(self, image: ImageLike, *, heatmap: bool = True) -> Prediction:
        """Classify one image (a file path, an H x W x 3 uint8 array or a Pillow image).

        A list or tuple of images is classified in batches and gives a list
        (as :meth:`classify_many`).
        """
        if isinstance(image, (list, tuple)):
            return self.classify_many(image, heatmap=heatmap)  # type: ignore[return-value]
        return self.classify_prepared([self.prepare(image)], heatmap=heatmap)[0]

    def classify_many(
        self, images: Iterable[ImageLike], *, heatmap: bool = True, batch_size: int = 8
    ) -> list[Prediction]:
        """Classify several images, ``batch_size`` at a time. A bad file raises
        ImageReadError; :func:`allgui.core.infer.folder.classify_folder` skips them instead."""
        out: list[Prediction] = []
        batch: list[PreparedImage] = []
        for image in images:
            batch.append(self.prepare(image))
            if len(batch) >= batch_size:
                out += self.classify_prepared(batch, heatmap=heatmap)
                batch = []
        if batch:
            out += self.classify_prepared(batch, heatmap=heatmap)
        return out

    @property
    def has_features(self) -> bool:
        """Does the model give its pooled features (models exported since issue 28)?"""
        return any(o.name == OUTPUT_FEATURES for o in self._session.get_outputs())

    def run(self, pixels: np.ndarray, *, heatmap: bool = True,
            features: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The model: N x S x S x 3 uint8 -> (probabilities N x C, cam N x C x h x w).

        The probabilities are calibrated: softmax(logits / T) with the
        temperature T the model file carries (fitted on validation; 1 = as the
        graph gives them). Raises ModelFileError when the run takes too long or
        its probabilities are not probabilities (NaN, outside 0..1, rows not
        summing to 1). A list given as ``features`` receives the pooled
        features (N x C) from the same run, when the model has them."""
        t = self.info.card.temperature
        wanted = [OUTPUT_PROBABILITIES, OUTPUT_CAM] if heatmap else [OUTPUT_PROBABILITIES]
        if t != 1.0:
            wanted.append(OUTPUT_LOGITS)
        with_features = features is not None and self.has_features
        if with_features:
            wanted.append(OUTPUT_FEATURES)
        results = self._runner.run(wanted, {INPUT_NAME: np.ascontiguousarray(pixels)})
        if with_features and features is not None:
            features.append(np.asarray(results.pop(), dtype=np.float64))
        name = Path(self.info.path).name
        probs = check_probabilities(results[0], len(pixels), len(self.classes), name)
        if t != 1.0:
            probs = check_probabilities(temperature_scaled(results[-1], t), len(pixels),
                                        len(self.classes), name)
        return probs, (results[1] if heatmap else None)

    def classify_prepared(
        self, prepared: Sequence[PreparedImage], *, heatmap: bool = True,
        features: list[np.ndarray] | None = None,
    ) -> list[Prediction]:
        if not prepared:
            return []
        pixels = np.stack([p.pixels for p in prepared])
        probs, cams = self.run(pixels, heatmap=heatmap, features=features)
        out = []
        answers = self.rule.predict(probs)
        for i, item in enumerate(prepared):
            index = int(answers[i])
            ordered = np.sort(probs[i])[::-1]
            margin = float(ordered[0] - ordered[1])
            heat = None
            if cams is not None:
                heat = upsample_heatmap(cams[i, index], item.original.shape[:2])
            out.append(
                Prediction(
                    source=item.source,
                    label=self.classes[index],
                    class_index=index,
                    probabilities={c: float(p) for c, p in zip(self.classes, probs[i], strict=True)},
                    margin=margin,
                    uncertain=margin < self.uncertain_margin,
                    heatmap=heat,
                )
            )
        return out

    def decide(self, probs: np.ndarray) -> int:
        """The predicted class, by the model's one decision rule
        (:class:`~allgui.core.model.decision.DecisionRule`)."""
        return int(self.rule.predict(probs)[0])

    def __repr__(self) -> str:
        return f"Classifier({Path(self.info.path).name!r}, providers={self.providers})"
