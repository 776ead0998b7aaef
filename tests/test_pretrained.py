"""The fine-tuning backbones (WAMAL Table 1): torchvision's networks unchanged, their weights
found, verified and loaded safely, and a clear error where they are missing or corrupt."""
import hashlib

import pytest
import torch
import torchvision

from aux_core.data import DataError
from aux_core.models import create_model
from aux_core.models.pretrained import load_pretrained, locate_weights, weights_path
from aux_core.config import RunConfig


@pytest.mark.parametrize("name, builder, classifier, size", [
    ("resnet50_tv", torchvision.models.resnet50, "fc", 32),
    ("vit_b16", torchvision.models.vit_b_16, "heads", 224),
])
def test_backbone_is_torchvisions_network(name, builder, classifier, size):
    """Same weights in, same feature out: our tap model is torchvision's forward pass."""
    torch.manual_seed(0)
    ref = builder(weights=None).eval()
    setattr(ref, classifier, torch.nn.Identity())
    ours = create_model(name, 7).eval()
    ours.net.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        feats, taps = ours.forward_features(x)
        assert torch.allclose(feats, ref(x), atol=1e-5)
        assert ours(x)[0].shape == (2, 7) and tuple(taps) == ours.tap_names


def _weights_file(tmp_path, module):
    """Save `module`'s weights under torchvision's naming (name-<sha256 prefix>.pth)."""
    raw = tmp_path / "raw.pth"
    torch.save(module.state_dict(), raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    url = f"https://example.invalid/models/tiny-{digest[:8]}.pth"
    dest = weights_path(url, tmp_path)
    dest.parent.mkdir(parents=True)
    raw.rename(dest)
    return url


def test_verified_weights_load(tmp_path):
    torch.manual_seed(0)
    src, dst = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    url = _weights_file(tmp_path, src)
    load_pretrained(dst, url, tmp_path)
    assert torch.equal(dst.weight, src.weight) and torch.equal(dst.bias, src.bias)


def test_corrupt_weights_are_refused(tmp_path):
    url = _weights_file(tmp_path, torch.nn.Linear(3, 2))
    path = weights_path(url, tmp_path)
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    dst = torch.nn.Linear(3, 2)
    before = dst.weight.clone()
    with pytest.raises(DataError, match="fails its checksum"):
        load_pretrained(dst, url, tmp_path)
    assert torch.equal(dst.weight, before)


def test_missing_weights_name_the_path_and_the_fix(tmp_path):
    url = "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"
    with pytest.raises(DataError, match=r"not found at .*weights/resnet50-11ad3fa6\.pth.*AUX_CORE_DOWNLOAD=1"):
        locate_weights(url, tmp_path, download=False)
    assert not (tmp_path / "weights").exists()


def test_run_config_refuses_pretrained_without_weights(tmp_path, monkeypatch):
    """Checked when the config is made (on the meta device, so nothing is loaded), before any work."""
    monkeypatch.setenv("AUX_CORE_DATA", str(tmp_path))
    monkeypatch.delenv("AUX_CORE_DOWNLOAD", raising=False)
    with pytest.raises(DataError, match="pretrained weights not found"):
        RunConfig(model="resnet50_tv", model_options={"pretrained": True})
    RunConfig(model="resnet50_tv")  # random initialisation needs no file
