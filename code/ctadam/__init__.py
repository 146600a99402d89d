"""ctadam: a reproduction of "Continuous-Time Analysis of Adaptive Optimization and
Normalization" (Gould and Tanaka, arXiv:2411.05746).

Sub-modules:
    optim        KAdam, Adam's adaptive normalization applied k times (k = 1 is Adam).
    theory       the stable (beta, gamma) region, the continuous-time model, norm dynamics.
    data, models, train, monitor
                 datasets, networks, the training engine and the stability monitor.
    plots        one module per figure; bench the speed benchmarks; cli the `ctadam` command.
"""

__version__ = "0.1.0"
