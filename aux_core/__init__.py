"""aux_core: a thin, tested toolkit for auxiliary supervision on image classifiers.

    from aux_core.data import load_dataset
    from aux_core.models import create_model, list_models
    from aux_core.methods import list_methods
    from aux_core.config import RunConfig
    from aux_core.runner import run
    from aux_core import stats
"""
__version__ = "0.1.0"
