"""One-shot verification with a Siamese network.

One convolutional network f maps every image to an L2-normalised encoding, and
the distance d(x1, x2) = ||f(x1) - f(x2)||^2 decides: the same identity if
d <= tau, different ones otherwise. Both branches of the Siamese network are the
same layers with the same weights, so a training batch runs through f once and
the gradients of every role (anchor, positive, negative) are summed per image
before one backward pass.

Modules
-------
model
    The embedding network, the L2-normalisation layer and the pair head.
losses
    Triplet loss and the binary (logistic) loss on |f(x1) - f(x2)|.
mining
    Random, batch-hard and semi-hard triplet choice within a batch.
metrics
    ROC curve and AUC, accuracy-maximising threshold with k folds, TAR at a
    given FAR and N-way one-shot accuracy.
data
    Identity folders and the humpback-whale CSV layout.
patches
    The patch-matching benchmark: views of regions of real photographs.
benchmarks
    The embedded benchmarks with held-out identities (patches, digits) and
    their training settings.
train
    The training loop: P identities x K images per batch, mining, one step.
commands
    Train, verify and identify, as called by ``nnscratch siamese``.
evaluate
    Verification and one-shot metrics of a checkpoint on held-out identities.
"""
