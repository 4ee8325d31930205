"""The build room: which versions go together (:mod:`.pins`, parsed once from what a user
types), what each Go component is (:mod:`.components`) and how it is built and cached
(:mod:`.gobuild`). Beneath the providers and the images, which only ask it for binaries."""
