"""AirAtlas core: data sources, graph kernels, models, engine, evaluation, exposure, reanalysis.

Every consumer (CLI, evaluator, dashboard, reanalysis) goes through
:func:`core.engine.infer.infer`; nothing re-implements a model step.
"""

__version__ = "0.1.0"
