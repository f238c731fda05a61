"""Experiments: configs as data, a resumable runner, and the embedded quickstart."""

from medmat.experiment.config import ExperimentConfig, load_config
from medmat.experiment.runner import run_experiment

__all__ = ["ExperimentConfig", "load_config", "run_experiment"]
