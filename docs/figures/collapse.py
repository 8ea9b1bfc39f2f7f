"""User-guide figure: KL per latent dimension, with and without KL warm-up, and a large beta."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skaevae import VAETransformer

X = StandardScaler().fit_transform(load_digits().data)
x = torch.as_tensor(X, dtype=torch.float32)
settings = {
    "beta=1, kl_warmup=0": {"beta": 1.0, "kl_warmup": 0},
    "beta=1, kl_warmup=10 (default)": {"beta": 1.0, "kl_warmup": 10},
    "beta=4, kl_warmup=10": {"beta": 4.0, "kl_warmup": 10},
}

fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
width = 0.27
for i, (label, params) in enumerate(settings.items()):
    vae = VAETransformer(n_components=16, max_iter=100, random_state=0, **params).fit(X)
    with torch.no_grad():
        loc, log_scale = vae.net_.module_.encode(x)
    # KL(q(z_k | x) || N(0, 1)) of each latent dimension k, averaged over rows.
    kl = (0.5 * (loc**2 + torch.exp(2 * log_scale) - 1 - 2 * log_scale)).mean(0).numpy()
    kl = np.sort(kl)[::-1]
    active = int((kl > 0.1).sum())
    ax.bar(np.arange(16) + (i - 1) * width, kl, width, label=f"{label}: {active} active")
ax.set_xticks(np.arange(16))
ax.set_xlabel("latent dimension (sorted by KL)")
ax.set_ylabel("mean KL (nats)")
ax.legend(fontsize="small")
