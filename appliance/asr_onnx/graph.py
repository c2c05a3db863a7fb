"""A small helper for writing ONNX graphs node by node, with the weights as initializers."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18


class Graph:
    def __init__(self, name: str, dtype: np.dtype[Any]) -> None:
        self.name = name
        self.dtype = np.dtype(dtype)
        self.elem_type = helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count = 0

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def input(self, name: str, shape: list[int | str], elem_type: int | None = None) -> str:
        kind = self.elem_type if elem_type is None else elem_type
        self.inputs.append(helper.make_tensor_value_info(name, kind, shape))
        return name

    def output(
        self, value: str, name: str, shape: list[int | str], elem_type: int | None = None
    ) -> None:
        kind = self.elem_type if elem_type is None else elem_type
        self.nodes.append(helper.make_node("Identity", [value], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, kind, shape))

    def weight(self, name: str, array: np.ndarray) -> str:
        """A model weight, stored in the graph's float type."""
        self.initializers.append(
            numpy_helper.from_array(np.ascontiguousarray(array, dtype=self.dtype), name)
        )
        return name

    def const(self, value: Any, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self._fresh("const")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        return self.op_multi(op_type, *inputs, outputs=1, **attrs)[0]

    def op_multi(self, op_type: str, *inputs: str, outputs: int, **attrs: Any) -> list[str]:
        names = [self._fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names

    def to_model(self) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="parley",
            producer_version="1",
        )
        model.ir_version = 9
        return model


INT64 = TensorProto.INT64
