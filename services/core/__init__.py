"""The recognition core: contracts, imaging, preprocessing, rendering, the pipeline, annotation and the stage
interfaces. It imports no service, queue, storage or training code (tests/project/test_layers.py)."""
