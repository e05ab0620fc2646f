"""``pianogan serve``: a local web app over the Python API (``app``), calling the model from one place (``engine``)."""
