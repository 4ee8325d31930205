"""A VM node for the local cluster: a QEMU guest (TCG) booting a Debian distribution kernel with
cgroup v2, so podshm can test a node unlike this host (cgroup v1, kernel 6.18).

One module per job: :mod:`.debs` (a Debian package, downloaded and unpacked), :mod:`.kernel`
(vmlinuz and the modules the guest needs), :mod:`.cpio` and :mod:`.initramfs` (the busybox
initramfs), :mod:`.guestinit` and :mod:`.disk` (the guest's root and boot disks),
:mod:`.network` (bridge, tap and the API server forward), :mod:`.qemu` (the process),
:mod:`.agent` (commands in the guest through qemu-guest-agent), :mod:`.node` (all of it:
build, boot, stop, leftovers). Nothing imports this package yet: the kubelet join comes next.
"""
