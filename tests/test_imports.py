"""The configuration vocabulary imports without torch, scipy or pandas (the workflow reads it at
parse time), while the packages still serve every name lazily."""

import subprocess
import sys

import pytest

LIGHT = (
    "sirenpipe.models.config, sirenpipe.fit.config, sirenpipe.codec.quantize, sirenpipe.codec.variants, "
    "sirenpipe.encoder.ratecontrol, sirenpipe.encoder.rate_model"
)


def test_config_modules_do_not_import_torch_scipy_or_pandas():
    code = f"import {LIGHT}; import sys; print(sorted(m for m in ('torch', 'scipy', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_packages_serve_their_names_lazily():
    import sirenpipe.codec as codec
    import sirenpipe.encoder as encoder
    import sirenpipe.fit as fit
    import sirenpipe.models as models

    for package in (codec, encoder, fit, models):
        assert all(getattr(package, name) is not None for name in package.__all__)
    assert fit.Trainer.__module__ == "sirenpipe.fit.trainer" and codec.compress.__module__ == "sirenpipe.codec.bitstream"
    assert encoder.encode_clip.__module__ == "sirenpipe.encoder.api"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        codec.nothing
