"""ImageNet-pretrained torchvision backbones for the fine-tuning rows of the WAMAL paper's
Table 1: ResNet-50 (the CIFAR-10 row, at CIFAR's 32 px as Table 17 gives) and ViT-B/16
(CUB-200, Oxford-IIIT Pet and Food-101 at 224 px).

The weights are torchvision's files, read from `<data dir>/weights/<file>` (the file name
torchvision publishes, e.g. `resnet50-11ad3fa6.pth`, whose hex part is the start of its
sha256: a file that does not match is refused, never loaded) or downloaded there by
torchvision when `AUX_CORE_DOWNLOAD=1`. They load with `weights_only=True`. The classifier
is new (`num_classes` outputs); everything before it is torchvision's module, unchanged.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from .. import settings
from .base import TapModel

WEIGHTS = {  # registry name -> torchvision's weights (the default of each builder)
    "resnet50_tv": torchvision.models.ResNet50_Weights.IMAGENET1K_V2,
    "vit_b16": torchvision.models.ViT_B_16_Weights.IMAGENET1K_V1,
}


def weights_path(url: str, root: Path | None = None) -> Path:
    return Path(root or settings.data_dir()) / "weights" / url.rsplit("/", 1)[-1]


@functools.lru_cache(maxsize=None)
def _verified(path: str, size: int, mtime_ns: int) -> None:
    """Check a weights file against the sha256 prefix in its name (once per file version)."""
    from ..data_sources import DataError, file_sha256
    prefix = re.search(r"-([0-9a-f]{8,})\.", Path(path).name)
    if prefix is None:
        raise DataError(f"{path}: the file name carries no sha256 prefix (torchvision's form: name-<hex>.pth)")
    digest = file_sha256(Path(path))
    if not digest.startswith(prefix.group(1)):
        raise DataError(f"{path} fails its checksum (sha256 {digest[:12]}..., expected {prefix.group(1)}...): "
                        "a truncated or different file; delete it and copy or download it again")


def locate_weights(url: str, root: Path | None = None, download: bool | None = None) -> Path:
    """The verified local file of `url`'s weights, downloading it where allowed; a clear
    error naming the path and the fix where it is missing or corrupt."""
    from ..data import DataError
    path = weights_path(url, root)
    if not path.exists():
        if not (settings.download_allowed() if download is None else download):
            raise DataError(f"pretrained weights not found at {path}: copy torchvision's file from {url} there, "
                            f"or set {settings.DOWNLOAD_ENV}=1 to download it (needs internet)")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), progress=False)  # writes a temp file, then renames
    stat = path.stat()
    _verified(str(path), stat.st_size, stat.st_mtime_ns)
    return path


def load_pretrained(module: nn.Module, url: str, root: Path | None = None, skip: str = "") -> None:
    """Load the verified weights into `module` (all keys but those starting with `skip`). On
    the meta device (RunConfig's structural check) only the file is checked."""
    path = locate_weights(url, root)
    if next(module.parameters()).is_meta:
        return
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not (skip and k.startswith(skip))}
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (skip and k.startswith(skip))]
    if missing or unexpected:
        raise ValueError(f"{path} does not fit {type(module).__name__}: missing {missing[:4]}, "
                         f"unexpected {unexpected[:4]}")


def headless(name: str, builder, classifier: str, pretrained: bool) -> nn.Module:
    """torchvision's network from `builder`, with ImageNet weights where asked, and its
    classifier (attribute `classifier`) replaced by the identity: the tap model adds its own."""
    net = builder(weights=None)
    if pretrained:
        load_pretrained(net, WEIGHTS[name].url, skip=f"{classifier}.")
    setattr(net, classifier, nn.Identity())
    return net


class TorchvisionResNet50(TapModel):
    """torchvision's ResNet-50 (7x7 stride-2 stem and max-pool, as pretrained), taps after
    layers 1-3, a 2048-d feature. A 32 px image reaches layer 4 at 1x1, as in the paper's
    CIFAR-10 fine-tuning (Table 17: 32 px)."""

    def __init__(self, num_classes: int, pretrained: bool = False):
        super().__init__()
        self.net = headless("resnet50_tv", torchvision.models.resnet50, "fc", pretrained)
        self.tap_names = ("layer1", "layer2", "layer3")
        self.num_features = 2048
        self.head = nn.Linear(2048, num_classes)

    def forward_features(self, x: torch.Tensor):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        taps = {}
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(n, name)(x)
            if name in self.tap_names:
                taps[name] = x
        return n.avgpool(x).flatten(1), taps


class TorchvisionViTB16(TapModel):
    """torchvision's ViT-B/16 at 224 px: smaller inputs are resized (bilinear) inside the
    model, since its position embeddings are 14x14 patches. Taps: the token sequences after
    encoder blocks 4 and 8; the feature is the class token after the final layer norm."""

    def __init__(self, num_classes: int, pretrained: bool = False):
        super().__init__()
        self.net = headless("vit_b16", torchvision.models.vit_b_16, "heads", pretrained)
        self.tap_names = ("block4", "block8")
        self.num_features = self.net.hidden_dim
        self.head = nn.Linear(self.net.hidden_dim, num_classes)

    def forward_features(self, x: torch.Tensor):
        n, size = self.net, self.net.image_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        x = n._process_input(x)
        x = torch.cat([n.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        enc = n.encoder
        x = enc.dropout(x + enc.pos_embedding)
        taps = {}
        for i, block in enumerate(enc.layers, start=1):
            x = block(x)
            if f"block{i}" in self.tap_names:
                taps[f"block{i}"] = x
        return enc.ln(x)[:, 0], taps
