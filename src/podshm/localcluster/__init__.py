"""podshm's own single-node Kubernetes, built from upstream components (`podshm cluster`)."""
