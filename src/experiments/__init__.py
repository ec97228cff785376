"""Experiments: training runs (time split, fit, evaluation, ONNX export and parity) logged to MLflow.

Entry point: :func:`experiments.training.run_training`.
"""
