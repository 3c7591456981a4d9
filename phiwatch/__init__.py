"""phiwatch: the command line, configuration, and the wiring of sensors → rules → alerting."""

__version__ = "0.1.0"
