"""The device loader: normalisation, crop and flip semantics, seeded order, batching."""
import pytest
import torch

from aux_core.loader import DeviceLoader, random_crop, random_flip

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def images(n=10):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.arange(n) % 3


def test_no_augmentation_is_exact_normalisation_in_order():
    x, y = images()
    batches = list(DeviceLoader(x, y, 4, mean=MEAN, std=STD))
    assert [len(b.y) for b in batches] == [4, 4, 2]
    expected = (x.float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    torch.testing.assert_close(torch.cat([b.x for b in batches]), expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(torch.cat([b.y for b in batches]), y)


def test_shuffle_is_a_seeded_permutation_and_drop_last_drops():
    x, y = images()
    loader = DeviceLoader(x, y, 4, mean=MEAN, std=STD, shuffle=True, drop_last=True, seed=3)
    assert len(loader) == 2
    first = torch.cat([b.y for b in DeviceLoader(x, torch.arange(10), 10, mean=MEAN, std=STD, shuffle=True, seed=3)])
    again = torch.cat([b.y for b in DeviceLoader(x, torch.arange(10), 10, mean=MEAN, std=STD, shuffle=True, seed=3)])
    other = torch.cat([b.y for b in DeviceLoader(x, torch.arange(10), 10, mean=MEAN, std=STD, shuffle=True, seed=4)])
    assert sorted(first.tolist()) == list(range(10))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_crop_is_a_zero_filled_translation_of_at_most_four_pixels():
    x = torch.zeros(64, 1, 32, 32, dtype=torch.uint8)
    x[:, :, 10, 20] = 255  # one bright pixel per image
    out = random_crop(x, 4, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    pos = (out[:, 0] == 255).flatten(1).float().argmax(1)
    dy, dx = pos // 32 - 10, pos % 32 - 20
    assert dy.abs().max() <= 4 and dx.abs().max() <= 4 and len(set(zip(dy.tolist(), dx.tolist()))) > 10
    assert int((out == 255).sum()) == 64  # nothing else appears


def test_flip_mirrors_about_half_of_the_images():
    x = torch.arange(32, dtype=torch.uint8).view(1, 1, 1, 32).expand(200, 3, 32, 32).contiguous()
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 31)
    assert torch.equal(out[flipped], x[flipped].flip(3)) and torch.equal(out[~flipped], x[~flipped])
    assert 60 < int(flipped.sum()) < 140


def test_bad_arguments():
    x, y = images()
    with pytest.raises(ValueError, match="crop_flip"):
        DeviceLoader(x, y, 4, mean=MEAN, std=STD, augment="mixup")
    with pytest.raises(ValueError, match="fewer than one batch"):
        DeviceLoader(x, y, 64, mean=MEAN, std=STD, drop_last=True)
