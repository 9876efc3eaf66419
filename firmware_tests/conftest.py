"""The acceptance suite's options (``python -m edgesign.firmware_tests`` passes its own through)."""

import pytest

OPTIONS = {
    "model": ("the deployed .tflite (default: the shipped model)", None),
    "data": ("labelled photos (class folders) to measure accuracy on", None),
    "min-accuracy": ("accuracy floor (0-1) on --edgesign-data", None),
    "max-latency-ms": ("p50 latency ceiling: one invoke, or one still image for a hand pipeline", "100"),
    "device": ("cpu or edgetpu", "cpu"),
    "camera": ("pi, an OpenCV index or URL: also test live capture", None),
    "out": ("folder for the accuracy test's figures and confusion matrix (a personal file's base: its base/)",
            "acceptance_eval"),
}


def pytest_addoption(parser):
    group = parser.getgroup("edgesign", "edgesign acceptance suite")
    for name, (help_text, default) in OPTIONS.items():
        group.addoption(f"--edgesign-{name}", default=default, help=help_text)


def pytest_configure(config):
    config.addinivalue_line("markers", "device: needs real hardware (camera, Edge TPU)")
    from .numbers import number_problem

    problem = number_problem(config.getoption("--edgesign-min-accuracy"), config.getoption("--edgesign-max-latency-ms"))
    if problem:  # pytest's own command line (python -m edgesign.firmware_tests says it before pytest starts)
        raise pytest.UsageError(problem.replace("--", "--edgesign-", 1))


@pytest.fixture(scope="session")
def option(request):
    """``option("data")``: the value of ``--edgesign-data`` (None when not given)."""
    return lambda name: request.config.getoption(f"--edgesign-{name}")
