def pytest_configure(config):
    config.addinivalue_line("markers", "device: needs real hardware (camera, Edge TPU)")
