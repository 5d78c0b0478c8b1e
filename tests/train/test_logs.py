"""The run log: JSON lines always, TensorBoard only where a writer's packages are all installed."""

import builtins
import importlib.machinery
import json
import sys
import types

from attnjax.train import logs


class _Writer:
    def __init__(self, directory):
        self.directory, self.scalars, self.closed = directory, [], False

    def add_scalar(self, name, value, step):
        self.scalars.append((name, value, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_torch_is_not_imported_when_tensorboard_is_missing(monkeypatch, tmp_path):
    installed = {"torch"}  # torch without the tensorboard package: its writer cannot work
    monkeypatch.setattr(logs.importlib.util, "find_spec", lambda name: object() if name in installed else None)
    real_import, attempted = builtins.__import__, []

    def recording(name, *args, **kwargs):
        if name.startswith(("torch", "tensorboard")):
            attempted.append(name)
            raise ImportError(name)  # what a missing package raises, without importing torch here
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", recording)
    assert logs._summary_writer(tmp_path) is None
    assert attempted == []


def test_metric_logger_mirrors_scalars_to_an_installed_writer(monkeypatch, tmp_path):
    fake = types.ModuleType("tensorboardX")
    fake.__spec__ = importlib.machinery.ModuleSpec("tensorboardX", None)
    fake.SummaryWriter = _Writer
    monkeypatch.setitem(sys.modules, "tensorboardX", fake)
    logger = logs.MetricLogger(tmp_path)
    assert isinstance(logger.writer, _Writer) and logger.writer.directory == str(tmp_path / "tensorboard")
    logger.write(10, "validation", {"accuracy": 0.5, "note": "text"})
    logger.close()
    assert logger.writer.scalars == [("validation/accuracy", 0.5, 10)] and logger.writer.closed
    records = [json.loads(line) for line in (tmp_path / logs.LOG_FILE).read_text().splitlines()]
    assert records == [{"step": 10, "split": "validation", "accuracy": 0.5, "note": "text"}]
