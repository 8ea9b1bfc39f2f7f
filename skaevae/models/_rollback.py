"""The rollback guard: a call that raises leaves the estimator as it was."""

import contextlib
import copy


@contextlib.contextmanager
def unchanged_on_error(estimator):
    """Put ``estimator`` back as it was if the block raises (Ctrl-C included).

    The attributes are restored from a shallow copy of ``__dict__``; what a
    call changes in place is copied in full: the random generator, the
    running moments, and a fitted net's weights, optimiser state, history
    length and per-call settings.
    """
    saved = dict(estimator.__dict__)
    for name in ("_random_state", "_latent_moments"):
        if name in saved:
            saved[name] = copy.deepcopy(saved[name])
    net = saved.get("net_")
    if net is not None:
        net_state = (
            copy.deepcopy(net.module_.state_dict()),
            copy.deepcopy(net.optimizer_.state_dict()),
            len(net.history),
            net.batch_size,
            net.train_split,
        )
    try:
        yield
    except BaseException:
        if net is not None:
            module, optimizer, n_epochs, batch_size, train_split = net_state
            del net.history[n_epochs:]
            net.module_.load_state_dict(module)
            net.optimizer_.load_state_dict(optimizer)
            net.batch_size, net.train_split = batch_size, train_split
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise
