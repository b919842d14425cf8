"""Style transfer by gradient descent on the pixels: L-BFGS-B or Adam.

Both optimisers keep every pixel in [0, 1]: L-BFGS-B through its box
bounds, Adam by clipping after each step (projected gradient descent).
"""

import dataclasses
import logging
import os
import time

import numpy as np
import scipy.optimize

from nnscratch.data.images import save_image
from nnscratch.layers.base import Layer, Parameter
from nnscratch.optim import Adam
from nnscratch.style.costs import StyleTransferCost
from nnscratch.style.features import FeatureNetwork, random_multiscale_network

logger = logging.getLogger(__name__)

METHODS = ("lbfgs", "adam")
INITS = ("noise", "content", "mixed")


@dataclasses.dataclass
class StyleTransferResult:
    """What ``style_transfer`` returns.

    Attributes
    ----------
    image : ndarray of shape (H, W, 3), float32
        The generated image, RGB in [0, 1].
    history : list of dict
        The cost terms (``content``, ``style``, ``total``): ``history[0]`` of
        the starting image, then one entry per step, and ``history[-1]`` of
        the returned image.
    seconds : float
        Wall time of the optimisation, targets included.
    evaluations : int
        Forward and backward passes of the network on the generated image.
    """

    image: np.ndarray
    history: list
    seconds: float
    evaluations: int

    @property
    def cost_ratio(self):
        """Starting total cost divided by the final one."""
        final = self.history[-1]["total"]
        return self.history[0]["total"] / final if final > 0 else float("inf")


def to_nchw(image):
    """Convert an (H, W, 3) image to (1, 3, H, W) float32."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"expected an RGB image of shape (H, W, 3), got shape {image.shape}; "
            "load grey images with load_image(path, mode='RGB')"
        )
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])  # (1, 3, H, W)


def initial_image(content, init="noise", seed=0):
    """Return the starting image, (1, 3, H, W) float32 in [0, 1].

    Parameters
    ----------
    content : ndarray of shape (1, 3, H, W)
    init : {"noise", "content", "mixed"}
        Uniform noise, the content image, or 0.6 noise + 0.4 content (the
        course's programming exercise's mix).
    seed : int
        Seeds the noise.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "content":
        return content.astype(np.float32).copy()
    noise = np.random.default_rng(seed).uniform(0, 1, content.shape).astype(np.float32)
    if init == "noise":
        return noise
    return (0.6 * noise + 0.4 * content).astype(np.float32)


def minimize_lbfgs(objective, x0, steps, callback=None):
    """Minimise ``objective`` over images in [0, 1] with scipy's L-BFGS-B.

    Parameters
    ----------
    objective : callable
        ``objective(x) -> (terms, dx)`` with ``terms["total"]`` the cost.
    x0 : ndarray of shape (N, 3, H, W)
    steps : int
        L-BFGS iterations; each costs one or more evaluations (line search).
    callback : callable, optional
        ``callback(step, terms, x)`` after each iteration, with the terms of
        the iterate.

    Returns
    -------
    ndarray of the shape and dtype of ``x0``
    """
    shape, dtype = x0.shape, x0.dtype
    last = {}
    _, dx0 = objective(x0)
    # L-BFGS-B's first step on a box-bounded problem is the whole negative
    # gradient, projected on the box. Scaling the cost so that the largest
    # pixel gradient is 1 makes that step move pixels by at most 1, whatever
    # the scale of alpha and beta. Without it, a small gradient gives a tiny
    # first step, a curvature estimate from it, and crawling progress.
    scale = 1.0 / max(float(np.abs(dx0).max()), 1e-30)

    def fun(flat):
        x = flat.reshape(shape).astype(dtype)
        terms, dx = objective(x)
        last[flat.tobytes()] = terms
        if len(last) > 8:
            last.pop(next(iter(last)))
        return scale * terms["total"], scale * dx.astype(np.float64).ravel()

    step = 0

    def on_iteration(flat):
        nonlocal step
        step += 1
        terms = last.get(flat.tobytes())
        if terms is None:
            terms, _ = objective(flat.reshape(shape).astype(dtype))
        if callback is not None:
            callback(step, terms, flat.reshape(shape).astype(dtype))

    bounds = scipy.optimize.Bounds(np.zeros(x0.size), np.ones(x0.size))
    result = scipy.optimize.minimize(
        fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
        bounds=bounds, callback=on_iteration,
        # ftol and gtol at 0: stop only at `steps` iterations or on a line
        # search failure, so a run's length does not depend on the cost's scale.
        options={"maxiter": steps, "maxfun": 2 * steps + 20, "ftol": 0.0,
                 "gtol": 0.0, "maxcor": 20},
    )
    logger.info("L-BFGS-B stopped after %d iterations: %s", result.nit, result.message)
    return result.x.reshape(shape).astype(dtype)


def minimize_adam(objective, x0, steps, lr=0.02, callback=None):
    """Minimise ``objective`` over images in [0, 1] with Adam and clipping.

    Parameters
    ----------
    objective : callable
        ``objective(x) -> (terms, dx)``.
    x0 : ndarray of shape (N, 3, H, W)
    steps : int
    lr : float
        Adam's step size, in pixel units (pixels are in [0, 1]).
    callback : callable, optional
        ``callback(step, terms, x)`` after each step, with the terms before
        the step's update (Adam evaluates once per step).

    Returns
    -------
    ndarray of the shape and dtype of ``x0``
    """
    holder = _ImageHolder(x0.copy())
    optimizer = Adam([Parameter("image", holder, "image")], lr=lr)
    for step in range(1, steps + 1):
        x = holder.params["image"]
        terms, dx = objective(x)
        holder.grads["image"] = dx.astype(x.dtype, copy=False)
        optimizer.step()
        np.clip(x, 0, 1, out=x)
        if callback is not None:
            callback(step, terms, x)
    return holder.params["image"]


class _ImageHolder(Layer):
    # Lets the library's Adam update an image as if it were a layer's weight.
    def __init__(self, image):
        super().__init__()
        self.params["image"] = image


def style_transfer(content, style, network=None, *, alpha=1.0, beta=None,
                   content_layers=None, style_layers=None, steps=200,
                   method="lbfgs", init="noise", lr=0.02, seed=0, progress=False,
                   save_every=0, save_dir=None, save_prefix=""):
    """Generate an image with the content of one image and the style of another.

    Parameters
    ----------
    content : ndarray of shape (H, W, 3)
        RGB in [0, 1]; sets the output size.
    style : ndarray of shape (HS, WS, 3)
        RGB in [0, 1], any size (resize it to about the content's size so
        its textures keep their scale).
    network : FeatureNetwork, optional
        ``random_multiscale_network()`` when omitted.
    alpha, beta : float
        Weights of the content and style costs (see ``nnscratch.style.costs``
        for the normalisation). ``beta`` defaults to the network's
        ``default_beta``.
    content_layers, style_layers : dict of str to float, optional
        The network's defaults when omitted.
    steps : int
        L-BFGS iterations or Adam steps.
    method : {"lbfgs", "adam"}
    init : {"noise", "content", "mixed"}
        See ``initial_image``.
    lr : float
        Adam's step size; unused by L-BFGS.
    seed : int
        Seeds the starting noise.
    progress : bool
        Show a tqdm bar on standard error with each cost term.
    save_every : int
        Save the image every ``save_every`` steps (0: never) to
        ``save_dir/<save_prefix>step_<step>.png``.
    save_dir : str or os.PathLike, optional
        Needed when ``save_every > 0``.
    save_prefix : str
        Start of the intermediate images' file names.

    Returns
    -------
    StyleTransferResult
    """
    if method not in METHODS:
        raise ValueError(f"style_transfer: method must be one of {METHODS}, got {method!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"style_transfer: steps must be a positive int, got {steps!r}")
    if save_every and save_dir is None:
        raise ValueError(
            "style_transfer: save_every > 0 needs save_dir, the folder that "
            "receives the intermediate images"
        )
    if network is None:
        network = random_multiscale_network()
    elif not isinstance(network, FeatureNetwork):
        raise TypeError(
            f"style_transfer: network must be a FeatureNetwork, got "
            f"{type(network).__name__}"
        )

    if beta is None:
        beta = network.default_beta

    start = time.perf_counter()
    content_nchw, style_nchw = to_nchw(content), to_nchw(style)
    cost = StyleTransferCost(network, content_nchw, style_nchw, alpha=alpha, beta=beta,
                             content_layers=content_layers, style_layers=style_layers)
    evaluations = 0

    def objective(x):
        nonlocal evaluations
        evaluations += 1
        return cost(x)

    x0 = initial_image(content_nchw, init, seed)
    history = [objective(x0)[0]]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=f"style transfer ({method})", unit="step")

    def on_step(step, terms, x):
        history.append(terms)
        if bar is not None:
            bar.set_postfix(content=f"{terms['content']:.4g}",
                            style=f"{terms['style']:.4g}",
                            total=f"{terms['total']:.4g}", refresh=False)
            bar.update(1)
        if save_every and step % save_every == 0:
            path = os.path.join(os.fspath(save_dir), f"{save_prefix}step_{step:04d}.png")
            save_image(path, x[0].transpose(1, 2, 0))  # (H, W, 3)

    try:
        if method == "lbfgs":
            x = minimize_lbfgs(objective, x0, steps, callback=on_step)
        else:
            x = minimize_adam(objective, x0, steps, lr=lr, callback=on_step)
    finally:
        if bar is not None:
            bar.close()

    # Adam's last entry is the cost before its last update, so the returned
    # image needs one more evaluation. L-BFGS's last entry is already its cost.
    if method == "adam" or len(history) == 1:
        history.append(objective(x)[0])
    image = np.clip(x[0].transpose(1, 2, 0), 0, 1)  # (H, W, 3)
    return StyleTransferResult(image=image.astype(np.float32), history=history,
                               seconds=time.perf_counter() - start,
                               evaluations=evaluations)
