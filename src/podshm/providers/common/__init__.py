"""What more than one provider needs of this machine (its mounts...): shared code, no
provider (it exposes no ``PROVIDER``)."""
