"""The on-device acceptance suite: run it on the Pi (or Coral board) against the deployed model.

    python -m edgesign.firmware_tests --model model.tflite --data /path/to/photos [--camera pi] [--device edgetpu]

It needs the runtime install plus pytest (``pip install 'edgesign[firmware]'``), never TensorFlow.
"""
