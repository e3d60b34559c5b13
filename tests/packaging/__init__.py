"""packaging: the wheel, the image and the deploy files, built or read as a deployment does."""
