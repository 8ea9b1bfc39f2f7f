"""Helpers of ``benchmarks/throughput.py``, one concern per module.

- ``network``: the benchmark's network, its FLOP counts and the plain torch MLP;
- ``roofline``: the machine's GEMM rates, the ceilings a fit is measured against;
- ``methods``: the fits and encodes compared (ours, a plain torch loop, skorch, PyOD);
- ``measure``: the timed, interleaved repeats and the ratios between methods;
- ``memory``: peak memory of one call, measured in a fresh subprocess;
- ``report``: the CSV, the markdown tables and the fit-time figure.
"""
