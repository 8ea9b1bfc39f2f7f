"""ConditionalVAETransformer: fitting on labels, conditioning and marginalising over them."""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skaevae import ConditionalVAETransformer
from tests._testing import THREE_EPOCHS_16_UNITS_FULL_KL


@pytest.fixture(scope="module")
def fitted(request):
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:300])
    y = y[:300] % 3
    return (
        ConditionalVAETransformer(n_components=3, **THREE_EPOCHS_16_UNITS_FULL_KL).fit(X, y),
        X,
        y,
    )


def test_conditional_samples_are_recognisable(digits_split):
    """A classifier trained on real digits reads sample(n, y=k) as k, as often as real rows."""
    X_train, X_test, y_train, y_test = digits_split
    classifier = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    cvae = ConditionalVAETransformer(8, max_iter=100, random_state=0, device="cpu")
    cvae.fit(X_train, y_train)
    labels = np.repeat(np.arange(10), 50)
    synthetic = cvae.sample(len(labels), y=labels, random_state=0)
    synthetic_accuracy = np.mean(classifier.predict(synthetic) == labels)
    real_accuracy = classifier.score(X_test, y_test)
    assert synthetic_accuracy > real_accuracy - 0.03
    # Without the label the same model's samples carry no chosen class: a
    # check that the label, not chance, makes them recognisable.
    shuffled = np.random.default_rng(0).permutation(labels)
    assert np.mean(classifier.predict(synthetic) == shuffled) < 0.2


def test_marginal_score_is_the_prior_mixture_of_class_scores(fitted):
    cvae, X, _ = fitted
    per_class = np.column_stack(
        [cvae.score_samples(X, y=np.full(len(X), k)) for k in cvae.classes_]
    )
    expected = logsumexp(per_class + np.log(cvae.class_prior_), axis=1)
    np.testing.assert_allclose(cvae.score_samples(X), expected, rtol=1e-5, atol=1e-4)


def test_marginal_code_weights_class_codes_by_their_posterior(fitted):
    cvae, X, _ = fitted
    per_class = [np.full(len(X), k) for k in cvae.classes_]
    scores = np.column_stack([cvae.score_samples(X, y=c) for c in per_class])
    posterior = softmax(scores + np.log(cvae.class_prior_), axis=1)
    codes = np.stack([cvae.transform(X, y=c) for c in per_class], axis=1)
    expected = (posterior[..., None] * codes).sum(axis=1)
    np.testing.assert_allclose(cvae.transform(X), expected, rtol=1e-4, atol=1e-5)
    # TransformerMixin's fit_transform(X, y) is fit(X, y).transform(X).
    assert cvae.transform(X).shape == (len(X), 3)


def test_marginal_decoding_is_the_prior_mean(fitted):
    cvae, _, _ = fitted
    Z = np.random.default_rng(0).standard_normal((7, 3))
    per_class = [cvae.inverse_transform(Z, y=np.full(7, k)) for k in cvae.classes_]
    expected = sum(p * X for p, X in zip(cvae.class_prior_, per_class, strict=True))
    np.testing.assert_allclose(cvae.inverse_transform(Z), expected, rtol=1e-5, atol=1e-6)


def test_sample_classes(fitted):
    cvae, _, _ = fitted
    one = cvae.sample(4, y=2, random_state=0)
    np.testing.assert_array_equal(one, cvae.sample(4, y=[2, 2, 2, 2], random_state=0))
    np.testing.assert_array_equal(cvae.sample(5, random_state=1), cvae.sample(5, random_state=1))
    with pytest.raises(ValueError, match="not seen in fit"):
        cvae.sample(2, y=7)
    with pytest.raises(ValueError, match="one label per row"):
        cvae.sample(3, y=[0, 1])
    with pytest.raises(ValueError, match="positive integer"):
        cvae.sample(True)


def test_class_prior_follows_labels_and_weights(small_X):
    y = np.r_[np.zeros(150, int), np.ones(50, int)]
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).fit(small_X, y)
    np.testing.assert_allclose(cvae.class_prior_, [0.75, 0.25])
    weight = np.where(y == 1, 3.0, 1.0)
    cvae.fit(small_X, y, sample_weight=weight)
    np.testing.assert_allclose(cvae.class_prior_, [0.5, 0.5])


def test_string_labels_and_bad_targets(small_X):
    y = np.where(np.arange(200) % 2, "cat", "dog")
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).fit(small_X, y)
    assert cvae.classes_.tolist() == ["cat", "dog"]
    assert cvae.sample(3, y="cat", random_state=0).shape == (3, small_X.shape[1])
    with pytest.raises(ValueError, match="requires y"):
        ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).fit(small_X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).fit(
            small_X, np.linspace(0, 1, 200)
        )
    with pytest.raises(ValueError, match="not available"):
        ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL, init="pca").fit(small_X, y)


def test_partial_fit_accumulates_the_prior(small_X):
    y = np.r_[np.zeros(100, int), np.ones(100, int)]
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL)
    cvae.partial_fit(small_X[:100], y[:100], classes=[0, 1])
    np.testing.assert_allclose(cvae.class_prior_, [1.0, 0.0])
    cvae.partial_fit(small_X[100:150], y[100:150])
    np.testing.assert_allclose(cvae.class_prior_, [100 / 150, 50 / 150])
    with pytest.raises(ValueError, match="not seen in fit"):
        cvae.partial_fit(small_X[:5], np.full(5, 2))
    # The refused call changed nothing.
    assert cvae.n_iter_ == 2


def test_search_pipeline_and_pickle(small_X):
    y = np.arange(200) % 2
    search = GridSearchCV(
        ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL), {"beta": [0.5, 1.0]}, cv=2
    )
    search.fit(small_X, y)
    assert search.best_params_["beta"] in (0.5, 1.0)
    pipe = make_pipeline(
        ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL), LogisticRegression()
    )
    assert pipe.fit(small_X, y).predict(small_X).shape == (200,)
    cvae = search.best_estimator_
    loaded = pickle.loads(pickle.dumps(cvae))
    np.testing.assert_array_equal(loaded.transform(small_X), cvae.transform(small_X))
    np.testing.assert_array_equal(
        loaded.sample(3, y=1, random_state=0), cvae.sample(3, y=1, random_state=0)
    )


def test_mixed_table_samples_keep_the_schema():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "size": rng.normal(size=200),
            "count": rng.integers(0, 5, 200),
            "colour": pd.Categorical(rng.choice(["red", "blue"], 200)),
        }
    )
    y = rng.integers(0, 2, 200)
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).fit(df, y)
    rows = cvae.sample(6, y=1, random_state=0)
    assert list(rows.columns) == ["size", "count", "colour"]
    assert rows.dtypes.equals(df.dtypes)
    assert np.isfinite(cvae.score_samples(df, y)).all()


def test_unorderable_labels_and_changed_classes_are_clear_errors(small_X):
    with pytest.raises(ValueError, match="cannot be sorted"):
        ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).fit(
            small_X, np.array(["a", None] * 100, dtype=object)
        )
    cvae = ConditionalVAETransformer(**THREE_EPOCHS_16_UNITS_FULL_KL).partial_fit(
        small_X, np.arange(200) % 2, classes=[0, 1]
    )
    with pytest.raises(ValueError, match="not the same as on the first call"):
        cvae.partial_fit(small_X, np.arange(200) % 2, classes=[0, 1, 2])


def test_sample_near_keeps_the_class_of_the_rows(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    cvae = ConditionalVAETransformer(8, max_iter=30, kl_warmup=1, random_state=0, device="cpu")
    cvae.fit(X_train, y_train)
    sevens = X_train[y_train == 7]
    new = cvae.sample_near(sevens, 7, n_samples=50, random_state=0)
    assert new.shape == (50, X_train.shape[1])
    classifier = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    assert np.mean(classifier.predict(new) == 7) > 0.8
    # One label per row of X works the same way.
    mixed = cvae.sample_near(X_train[:20], y_train[:20], n_samples=10, random_state=0)
    assert mixed.shape == (10, X_train.shape[1])
    with pytest.raises(ValueError, match="labels not seen in fit"):
        cvae.sample_near(sevens, 11, n_samples=5, random_state=0)
