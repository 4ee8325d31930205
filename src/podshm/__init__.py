"""podshm: a conformance suite for IPC and /dev/shm inside Kubernetes pods."""

__version__ = "0.1.0"
