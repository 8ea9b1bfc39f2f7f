"""A fitted estimator's state as plain data, and back (numpy, pandas, torch).

Pickling a fitted estimator stores its skorch net, torch modules and tensors
as objects, and loading a pickle runs whatever code it names. The estimators
instead give ``__getstate__`` a state of plain data: numbers, strings,
booleans, ``None``, lists, tuples, dicts and numpy arrays of numbers. The
network is its weights (numpy arrays) and the arguments it is built from;
the optimiser's state, the training history, a mixed table's encoding and the
random generator are plain data too. ``__setstate__`` rebuilds the torch
module from them. So pickle keeps working, and ``skops.io`` can load a model
while trusting nothing but the estimator's own class (and the classes of a
user's networks and callbacks, which are code).

Torch is only ever handed arrays: nothing here calls ``torch.load``.
"""

import warnings
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch
from skorch.exceptions import DeviceWarning
from skorch.history import History

from ..utils._layout import ColumnLayout
from ..utils._moments import RunningMoments


def plain(value):
    """``value`` with numpy scalars as Python numbers, containers converted inside."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    if torch.is_tensor(value):
        # A copy: the state must not share memory with the live tensors.
        return value.detach().cpu().numpy().copy()
    return value


# ------------------------------------------------------------ random state


def random_state_to_state(random_state):
    if not isinstance(random_state, np.random.RandomState):
        return random_state
    name, keys, pos, has_gauss, cached = random_state.get_state()
    return {"__random_state__": [name, keys, int(pos), int(has_gauss), float(cached)]}


def random_state_from_state(state):
    if isinstance(state, dict) and "__random_state__" in state:
        name, keys, pos, has_gauss, cached = state["__random_state__"]
        random_state = np.random.RandomState()
        random_state.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        return random_state
    return state


# ------------------------------------------------------------------ tables


def _dtype_to_state(dtype):
    if isinstance(dtype, pd.CategoricalDtype):
        return {
            "category": plain(list(dtype.categories)),
            "ordered": bool(dtype.ordered),
        }
    if isinstance(dtype, pd.StringDtype):
        # str(dtype) names neither the storage nor the missing value
        # ("string" is python or pyarrow storage, whichever is the default
        # where it is read): both are kept, so the dtype comes back exactly.
        return {
            "string": dtype.storage,
            "na_value": "nan" if dtype.na_value is np.nan else "NA",
        }
    return str(dtype)


def _dtype_from_state(state):
    if isinstance(state, dict) and "string" in state:
        if state["na_value"] == "nan":
            return pd.StringDtype(state["string"], na_value=np.nan)
        # pandas before 2.3 takes no na_value: pd.NA is its only one.
        return pd.StringDtype(state["string"])
    if isinstance(state, dict):
        return pd.CategoricalDtype(state["category"], ordered=state["ordered"])
    return pd.api.types.pandas_dtype(state)


def table_to_state(table):
    """A fitted :class:`~skaevae.utils._table.TableEncoder` as plain data, or None."""
    if table is None:
        return None
    state = dict(table.__dict__)
    state["dtypes_"] = [[name, _dtype_to_state(d)] for name, d in table.dtypes_.items()]
    state["layout_"] = asdict(table.layout_)
    return {"__table__": plain(_keyed(state))}


def table_from_state(state):
    from ..utils._table import TableEncoder

    if state is None:
        return None
    state = _unkeyed(state["__table__"])
    table = TableEncoder.__new__(TableEncoder)
    state["dtypes_"] = {name: _dtype_from_state(d) for name, d in state["dtypes_"]}
    state["layout_"] = layout_from_state(state["layout_"])
    table.__dict__.update(state)
    return table


def layout_from_state(state):
    """The :class:`~skaevae.utils._layout.ColumnLayout` whose ``asdict`` was ``state``."""
    return ColumnLayout(
        **{
            **state,
            "integer_bounds": tuple(tuple(b) for b in state["integer_bounds"]),
            "categories": tuple(state["categories"]),
        }
    )


def _keyed(value):
    """Dicts whose keys are not all strings become ``{"__items__": [[key, value], ...]}``."""
    if isinstance(value, dict):
        items = {k: _keyed(v) for k, v in value.items()}
        if all(isinstance(k, str) for k in items) and "__items__" not in items:
            return items
        return {"__items__": [[k, v] for k, v in items.items()]}
    if isinstance(value, (list, tuple)):
        return type(value)(_keyed(v) for v in value)
    return value


def _unkeyed(value):
    if isinstance(value, dict):
        if set(value) == {"__items__"}:
            return {_key(k): _unkeyed(v) for k, v in value["__items__"]}
        return {k: _unkeyed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unkeyed(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unkeyed(v) for v in value)
    return value


def _key(key):
    # Keys come back as they went in; a list would be a tuple key.
    return tuple(key) if isinstance(key, list) else key


# --------------------------------------------------------------------- net


def net_to_state(net):
    """The fitted skorch ``net``: its module's build arguments and weights, optimiser, history."""
    params = net.get_params(deep=False)
    module_params = {k[len("module__") :]: v for k, v in params.items() if k.startswith("module__")}
    criterion_params = {
        k[len("criterion__") :]: v for k, v in params.items() if k.startswith("criterion__")
    }
    for group in (module_params, criterion_params):
        if isinstance(group.get("layout"), ColumnLayout):
            group["layout"] = {"__layout__": asdict(group["layout"])}
    optimizer = net.optimizer_.state_dict()
    return {
        "module_params": plain(module_params),
        "criterion_params": plain(criterion_params),
        "weights": {
            k: v.detach().cpu().numpy().copy() for k, v in net.module_.state_dict().items()
        },
        "optimizer": {
            "state": [[int(k), plain(v)] for k, v in optimizer["state"].items()],
            "param_groups": plain(optimizer["param_groups"]),
        },
        "history": plain(_keyed([dict(entry) for entry in net.history])),
        "device": str(net.device),
    }


def _layout_from(params):
    layout = params.get("layout")
    if isinstance(layout, dict) and "__layout__" in layout:
        params["layout"] = layout_from_state(layout["__layout__"])
    return params


def loadable_device(device):
    """``device``, or the CPU (with a warning) where it is a GPU this machine lacks."""
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"The model was fitted on device={device!r}, but no CUDA devices are "
            "available on this machine; it is loaded on the CPU.",
            DeviceWarning,
            stacklevel=4,
        )
        return "cpu"
    return device


def net_from_state(estimator, state):
    """Rebuild the fitted net of ``estimator`` from :func:`net_to_state`'s output."""
    from ..train._net import _GLOBAL_RNG_LOCK, build_net

    device = loadable_device(state["device"])
    module_params = _layout_from(dict(state["module_params"]))
    criterion_params = _layout_from(dict(state["criterion_params"]))
    config = estimator._training_config(1, device, 0, estimator.max_iter, False)
    # The fitted network is eager (compile applies to training calls).
    config.compile = False
    criterion_cls = estimator._criterion()[0]
    net = build_net(estimator._module_cls, module_params, criterion_cls, criterion_params, config)
    # Initialising draws random weights (then overwritten): under the lock
    # that fits hold, so that a load never moves another thread's draws.
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        net.initialize()
    weights = {k: torch.tensor(np.asarray(v)) for k, v in state["weights"].items()}
    net.module_.load_state_dict(weights)
    optimizer = {
        "state": {
            k: {name: torch.tensor(np.asarray(v)) for name, v in entry.items()}
            for k, entry in state["optimizer"]["state"]
        },
        "param_groups": [dict(g) for g in state["optimizer"]["param_groups"]],
    }
    for group in optimizer["param_groups"]:
        for key in ("betas",):
            if key in group and isinstance(group[key], list):
                group[key] = tuple(group[key])
    net.optimizer_.load_state_dict(optimizer)
    net.history_ = History(_unkeyed(state["history"]))
    net.module_.eval()
    return net


class PlainStateMixin:
    """Pickle and ``skops.io`` state as plain data: the network as build arguments and weights."""

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "net_" in state:
            state["net_"] = {"__net__": net_to_state(state["net_"])}
        if "_table" in state:
            state["_table"] = table_to_state(state["_table"])
        if "_random_state" in state:
            state["_random_state"] = random_state_to_state(state["_random_state"])
        if "_latent_moments" in state:
            state["_latent_moments"] = {"__moments__": dict(vars(state["_latent_moments"]))}
        return plain(state)

    def __setstate__(self, state):
        state = dict(state)
        net = state.pop("net_", None)
        if "_table" in state:
            state["_table"] = table_from_state(state["_table"])
        if "_random_state" in state:
            state["_random_state"] = random_state_from_state(state["_random_state"])
        moments = state.get("_latent_moments")
        if isinstance(moments, dict) and "__moments__" in moments:
            state["_latent_moments"] = RunningMoments.from_state(moments["__moments__"])
        super().__setstate__(state)
        if net is not None:
            self.net_ = net_from_state(self, net["__net__"])
