"""User networks: encoder and decoder classes with their keyword arguments."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from torch import nn

from skaevae import AutoencoderTransformer, ConditionalVAETransformer, VAETransformer
from skaevae.nn._networks import ObservedEntries
from tests._testing import THREE_EPOCHS_16_UNITS
from tests.networks import ConvEncoder, TinyDecoder, TinyEncoder

USER = {"encoder": TinyEncoder, "decoder": TinyDecoder, "decoder_params": {"width": 5}}


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_user_networks_replace_the_mlps(Estimator, small_X):
    est = Estimator(**THREE_EPOCHS_16_UNITS, **USER).fit(small_X)
    module = est.net_.module_
    encoder = module.encoder if Estimator is AutoencoderTransformer else module.trunk
    assert isinstance(encoder, TinyEncoder)
    assert isinstance(module.decoder, TinyDecoder)
    assert module.decoder.hidden.out_features == 5
    # The VAE's encoder outputs means and log scales; its decoder the
    # likelihood's parameters, with no extra head.
    n_out = 2 * est.n_components if Estimator is VAETransformer else est.n_components
    assert encoder.net[-1].out_features == n_out
    assert module.decoder.out.out_features == small_X.shape[1]
    if Estimator is VAETransformer:
        assert isinstance(module.likelihood.head, nn.Identity)
    assert est.transform(small_X).shape == (200, 2)
    assert est.inverse_transform(est.transform(small_X)).shape == small_X.shape
    assert np.isfinite(est.score_samples(small_X)).all()
    assert est.sample(3, random_state=0).shape == (3, small_X.shape[1])


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_determinism_clone_and_pickle(Estimator, small_X):
    est = Estimator(**THREE_EPOCHS_16_UNITS, **USER)
    Z = est.fit(small_X).transform(small_X)
    np.testing.assert_array_equal(clone(est).fit(small_X).transform(small_X), Z)
    params = clone(est).get_params()
    assert params["encoder"] is TinyEncoder and params["decoder_params"] == {"width": 5}
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.transform(small_X), Z)


def test_convolutional_vae_on_digits(digits_split):
    """A convolutional encoder reads the 8x8 images into codes that separate the digits."""
    X_train, X_test, y_train, y_test = digits_split
    vae = VAETransformer(
        8,
        encoder=ConvEncoder,
        encoder_params={"channels": 8},
        hidden_layer_sizes=(64,),
        max_iter=50,
        random_state=0,
        device="cpu",
    ).fit(X_train)
    assert isinstance(vae.net_.module_.trunk, ConvEncoder)
    # The decoder is still the MLP of hidden_layer_sizes.
    assert isinstance(vae.net_.module_.decoder, nn.Sequential)
    codes = LogisticRegression(max_iter=1000).fit(vae.transform(X_train), y_train)
    assert codes.score(vae.transform(X_test), y_test) > 0.85


def test_search_over_network_arguments(small_X):
    search = GridSearchCV(
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, encoder=TinyEncoder),
        {"encoder_params": [{"width": 4}, {"width": 12}]},
        cv=2,
    ).fit(small_X)
    assert search.best_params_["encoder_params"]["width"] in (4, 12)
    best = search.best_estimator_.net_.module_.encoder
    assert best.net[0].out_features == search.best_params_["encoder_params"]["width"]


def test_set_params_after_fit_needs_a_new_network_for_partial_fit(small_X):
    est = AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, **USER).partial_fit(small_X)
    est.set_params(encoder_params={"width": 3})
    with pytest.raises(ValueError, match="encoder_params"):
        est.partial_fit(small_X)


def test_bad_networks_get_clear_errors(small_X):
    class NoSizes(nn.Module):
        def __init__(self):
            super().__init__()

    with pytest.raises(TypeError, match="n_inputs and n_outputs"):
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, encoder=NoSizes).fit(small_X)
    with pytest.raises(TypeError, match="must build a torch.nn.Module"):
        AutoencoderTransformer(
            **THREE_EPOCHS_16_UNITS, decoder=lambda n_inputs, n_outputs: "net"
        ).fit(small_X)
    with pytest.raises(TypeError, match="unexpected keyword"):
        AutoencoderTransformer(
            **THREE_EPOCHS_16_UNITS, encoder=TinyEncoder, encoder_params={"depth": 2}
        ).fit(small_X)
    with pytest.raises(ValueError, match="init='random'"):
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, encoder=TinyEncoder, init="pca").fit(
            small_X
        )
    with pytest.raises(ValueError, match="encoder"):
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, encoder="mlp").fit(small_X)


def test_user_networks_with_missing_values_mixed_tables_and_conditions(small_X):
    X = small_X.copy()
    X[::7, 3] = np.nan
    assert np.isfinite(
        AutoencoderTransformer(**THREE_EPOCHS_16_UNITS, **USER).fit(X).transform(X)
    ).all()
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"a": rng.normal(size=100), "kind": pd.Categorical(rng.choice(["x", "y"], 100))}
    )
    for Estimator in (AutoencoderTransformer, VAETransformer):
        est = Estimator(**THREE_EPOCHS_16_UNITS, **USER, n_components=1).fit(df)
        assert list(est.sample(2, random_state=0).columns) == ["a", "kind"]
    y = np.arange(200) % 2
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS, **USER, kl_warmup=1).fit(small_X, y)
    # The one-hot class is appended to the encoder's and the decoder's inputs.
    assert cvae.net_.module_.trunk.net[0].in_features == small_X.shape[1] + 2
    assert cvae.net_.module_.decoder.hidden.in_features == 2 + 2


def test_wrong_output_widths_are_clear_errors(small_X):
    class Wide(nn.Module):
        def __init__(self, n_inputs, n_outputs):
            super().__init__()
            self.layer = nn.Linear(n_inputs, n_outputs + 1)

        def forward(self, x):
            return self.layer(x)

    for params in ({"encoder": Wide}, {"decoder": Wide}):
        for Estimator in (AutoencoderTransformer, VAETransformer):
            with pytest.raises(ValueError, match=r"must map rows of shape"):
                Estimator(**THREE_EPOCHS_16_UNITS, **params).fit(small_X)


def test_editing_network_arguments_in_place_is_caught(small_X):
    est = AutoencoderTransformer(
        **THREE_EPOCHS_16_UNITS, encoder=TinyEncoder, encoder_params={"width": 4}
    )
    est.partial_fit(small_X)
    est.encoder_params["width"] = 6
    with pytest.raises(ValueError, match="encoder_params"):
        est.partial_fit(small_X)


def test_a_subclass_with_its_own_module_takes_the_plain_step(small_X):
    class PlainModule(nn.Module):
        def __init__(self, n_features, n_components, **kwargs):
            super().__init__()
            self.encoder = nn.Linear(n_features, n_components)
            self.decoder = nn.Linear(n_components, n_features)
            self.entries = ObservedEntries(n_features)

        def observed(self, x):
            return self.entries(x)

        def encode(self, x, mask=None):
            return self.encoder(x)

        def decode(self, z):
            return self.decoder(z)

        def forward(self, batch):
            z = self.encoder(batch.x)
            return {"z": z, "x_loc": self.decoder(z)}

    class PlainAutoencoder(AutoencoderTransformer):
        _module_cls = PlainModule

    est = PlainAutoencoder(**THREE_EPOCHS_16_UNITS).fit(small_X)
    assert est.transform(small_X).shape == (200, 2)
