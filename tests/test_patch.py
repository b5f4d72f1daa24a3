"""patch (book/17_export.ipynb): methods added cell by cell read like methods written in
the class."""

import pickle
import pydoc

import pytest

from nnscratch import CrossEntropyLoss, Layer, NeuralNetwork
from nnscratch.patch import patch


def make_class():
    class Box:
        def __init__(self, value):
            self.value = value

    return Box


def test_patch_adds_a_method_and_returns_the_function():
    Box = make_class()

    def double(self):
        """Twice the value."""
        return 2 * self.value

    assert patch(Box)(double) is double
    assert Box(4).double() == 8 and Box.double is double


def test_patch_sets_the_qualified_name_and_keeps_the_module():
    Box = make_class()

    @patch(Box)
    def double(self):
        return 2 * self.value

    assert double.__qualname__ == f"{Box.__qualname__}.double"
    assert double.__module__ == __name__
    with pytest.raises(
        TypeError, match=r"Box\.double\(\) takes 1 positional argument but 2 were given"
    ):
        Box(1).double(3)


def test_patch_handles_staticmethod_and_classmethod():
    Box = make_class()

    @patch(Box)
    @staticmethod
    def unit():
        return 1

    @patch(Box)
    @classmethod
    def of_unit(cls):
        return cls(unit())

    # returned as given
    assert isinstance(unit, staticmethod) and isinstance(of_unit, classmethod)
    assert Box.unit() == Box(0).unit() == 1 and Box.of_unit().value == 1
    assert Box.unit.__qualname__.endswith(
        "Box.unit"
    ) and Box.of_unit.__qualname__.endswith("Box.of_unit")
    # the wrapper's copy too
    assert unit.__qualname__ == Box.unit.__qualname__


@pytest.mark.parametrize(
    "method, qualname",
    [
        (Layer.forward, "Layer.forward"),
        (Layer.backward, "Layer.backward"),
        (NeuralNetwork.predict, "Sequential.predict"),
        (CrossEntropyLoss.grad, "CrossEntropyLoss.grad"),
        (CrossEntropyLoss.logits_grad, "CrossEntropyLoss.logits_grad"),
    ],
)
def test_library_methods_carry_their_class_and_pickle(method, qualname):
    assert method.__qualname__ == qualname
    assert method.__module__.startswith("nnscratch.")
    assert pickle.loads(pickle.dumps(method)) is method


def test_help_lists_patched_methods_with_their_docstrings():
    text = pydoc.render_doc(Layer, renderer=pydoc.plaintext)
    assert "forward(self, x)" in text
    assert Layer.forward.__doc__.splitlines()[0].strip() in text
