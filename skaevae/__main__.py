"""``python -m skaevae``: compare PCA, an autoencoder and a VAE on sklearn's digits."""

import argparse
import importlib.util
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

from ._compare import compare, load_split


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skaevae",
        description=(
            "Compare PCA, AutoencoderTransformer and VAETransformer on sklearn's bundled "
            "digits (standardised, 25% held out): held-out reconstruction error, held-out "
            "log-likelihood, accuracy of a logistic regression on the codes, fit time."
        ),
    )
    parser.add_argument("--n-components", type=int, default=8, help="latent width (default 8)")
    parser.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--figures-dir",
        default="skaevae-figures",
        help="folder for the comparison figures (default skaevae-figures/; needs matplotlib)",
    )
    parser.add_argument("--no-figures", action="store_true", help="print the table only")
    args = parser.parse_args(argv)

    print(f"Digits (1797 x 64), n_components={args.n_components}, 25% held out\n")
    with warnings.catch_warnings():
        # Default max_iter may end before the convergence criterion; that is fine here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        table, models = compare(n_components=args.n_components, random_state=args.random_state)
    print(table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="—"))
    print(
        "\nreconstruction MSE and log-likelihood are on held-out rows; log-likelihood is "
        "PCA.score / VAETransformer.score (mean nats per row; the autoencoder has none)."
    )
    if not args.no_figures:
        _write_figures(models, args.random_state, Path(args.figures_dir))
    return table


def _write_figures(models, random_state, directory):
    if importlib.util.find_spec("matplotlib") is None:
        print('\nNo figures: matplotlib is not installed (pip install "skaevae[plot]").')
        return
    from .plotting._comparison import write_comparison_figures

    # The same held-out rows as the table's, shown in pixel values.
    _, X_test, _, y_test, scaler = load_split(random_state, return_scaler=True)
    paths = write_comparison_figures(models, X_test, y_test, directory, scaler=scaler)
    print(f"\nFigures written to {directory}/: " + ", ".join(p.name for p in paths))


if __name__ == "__main__":
    main()
