"""Host tests: real IPC between podshm-ipc processes, no Kubernetes."""
