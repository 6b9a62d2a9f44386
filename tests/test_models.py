import math

import pytest
import torch

from sirenpipe.evaluation.paper import paper_style_parameters
from sirenpipe.models import PRESETS, build_model, model_config

# True parameter counts, and the paper's '#Params' column (Tables 1-3, in thousands).
PARAMS = {
    "siamese-siren": (140_546, 513),
    "pe-siren": (140_545, 843),
    "optimized-siren": (140_545, 843),
    "original-siren": (132_353, 794),
    "siamese-2x128-1x64": (37_506, 142),
    "siamese-2x64-1x32": (10_562, 42),
    "siamese-1x256-2x128": (107_778, 151),
    "siamese-0-3x128": (75_010, 75),
}


@pytest.mark.parametrize("preset", PARAMS)
def test_parameter_counts_match_the_paper(preset):
    model = build_model(preset)
    true_count, paper_thousands = PARAMS[preset]
    assert model.num_parameters() == true_count
    assert round(paper_style_parameters(model) / 1000) == paper_thousands


def test_every_preset_builds_and_maps_time_to_heads():
    t = torch.linspace(-1, 1, 50).unsqueeze(-1)
    for name in [p for p in PRESETS if model_config(p).family == "siren"]:  # the latent grids: test_latent_grid.py
        model = build_model(name)
        assert model(t).shape == (50, model.config.num_heads)


def test_positional_encoding_has_33_dims_and_the_reference_frequencies():
    model = build_model("siamese-siren")
    t = torch.tensor([[0.25]])
    x = model.encode(t)[0]
    assert x.shape == (33,)
    assert x[0] == pytest.approx(0.25)
    for k in range(16):
        assert x[1 + 2 * k] == pytest.approx(math.sin(2**k * math.pi * 0.25), abs=2e-3)  # float32 ulp of 2^15 pi t
        assert x[2 + 2 * k] == pytest.approx(math.cos(2**k * math.pi * 0.25), abs=2e-3)  # float32 ulp of 2^15 pi t


def _within(tensor, bound):
    return tensor.abs().max().item() <= bound and tensor.abs().max().item() > 0.9 * bound


def test_siamese_init_bounds():
    torch.manual_seed(0)
    m = build_model("siamese-siren")
    assert _within(m.trunk[0].linear.weight, math.sqrt(6 / 33) / 100)  # PE: hidden init in layer 1
    assert _within(m.trunk[1].linear.weight, math.sqrt(6 / 256) / 100)
    assert _within(m.heads[0][0].linear.weight, math.sqrt(6 / 256) / 100)
    assert _within(m.heads[0][1].weight, math.sqrt(6 / 128) / 100)  # linear output
    assert _within(m.trunk[1].linear.bias, 1 / math.sqrt(256))  # PyTorch's default bias init
    assert [layer.omega for layer in m.trunk] == [100.0, 100.0]


def test_original_siren_first_layer_init_and_omegas():
    torch.manual_seed(0)
    m = build_model("original-siren")
    assert m.encoding is None
    assert _within(m.trunk[0].linear.weight, 1.0)  # U(-1/in, 1/in) with in = 1
    assert [layer.omega for layer in m.trunk] == [3000.0, 30.0, 30.0]


def test_heads_are_different_and_the_trunk_runs_once_per_forward():
    m = build_model("siamese-siren")
    calls = []
    m.trunk.register_forward_hook(lambda *a: calls.append(1))
    out = m(torch.linspace(-1, 1, 100).unsqueeze(-1))
    assert len(calls) == 1
    assert not torch.allclose(out[:, 0], out[:, 1])


def test_overrides_and_unknown_names():
    config = model_config("siamese-siren", shared=(64,), head_widths=(32, 32), omega=50.0)
    assert config.shared == (64,) and config.head_widths == (32, 32) and config.omega == 50.0
    with pytest.raises(KeyError, match="unknown preset"):
        model_config("no-such-preset")
    with pytest.raises(ValueError, match="omega must be"):
        model_config("siamese-siren", omega=0.0)


def test_sine_layer_gradients_equal_autograd_of_the_plain_expression():
    from sirenpipe.models.layers import SineLayer

    torch.manual_seed(0)
    layer = SineLayer(33, 16, omega=100.0).double()
    x = torch.randn(50, 33, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(50, 16, dtype=torch.float64)
    (layer(x) * upstream).sum().backward()
    w = layer.linear.weight.detach().clone().requires_grad_()
    b = layer.linear.bias.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    (torch.sin(100.0 * (x_ref @ w.T + b)) * upstream).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad) and torch.allclose(layer.linear.weight.grad, w.grad)
    assert torch.allclose(layer.linear.bias.grad, b.grad)
