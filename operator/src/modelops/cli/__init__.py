"""The ``modelops`` command (also installed as the kubectl plugin ``kubectl-modelops``)."""
