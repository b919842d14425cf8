"""Layers with hand-written forward and backward passes over NCHW arrays."""

from nnscratch.layers.activations import LeakyReLU, ReLU, Sigmoid, Tanh, sigmoid
from nnscratch.layers.base import Layer, Parameter
from nnscratch.layers.conv import Conv2d
from nnscratch.layers.convert import fc_to_conv, linear_to_conv
from nnscratch.layers.dropout import Dropout
from nnscratch.layers.linear import Flatten, Linear
from nnscratch.layers.norm import BatchNorm2d
from nnscratch.layers.pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d

__all__ = [
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "Layer",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Parameter",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "fc_to_conv",
    "linear_to_conv",
    "sigmoid",
]
