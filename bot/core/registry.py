"""The model registry: every quote model's name, read by the config, the quoting core, the estimators'
use and the research tools (pure)."""

from __future__ import annotations

from typing import Literal, get_args

ModelName = Literal["symmetric", "linear", "as", "glft"]
MODELS: tuple[str, ...] = get_args(ModelName)
#: the models that read sigma, A and kappa (live estimates when ``use_estimators``, else the fallbacks)
READS_ESTIMATES: tuple[str, ...] = ("as", "glft")


def reads_estimates(model: str) -> bool:
    """Whether ``model`` reads sigma, A and kappa (so live estimators are worth feeding)."""
    return model in READS_ESTIMATES
