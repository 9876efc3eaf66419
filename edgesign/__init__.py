"""edgesign: sign-language image classifiers on small devices.

The runtime (this package) needs numpy, pillow, typer and a TFLite interpreter, never TensorFlow.
"""

__version__ = "0.3.0"
