"""Runs nibble's generated GPU kernels on the CPU, for tests without a GPU.

`emulate(ir_text, inputs)` interprets a function printed in MLIR's generic
form (`--mlir-print-op-generic`) whose kernels are still inline `gpu.launch`
ops, i.e. the IR right after `nibble-cuda-dequant-matmul-kernels`. Every
block of a launch runs with all of its threads in lockstep: an SSA value is
a numpy array with one entry per thread (a vector value: one vector per
thread, the thread first), so warp shuffles and `mma.sync` are exact and
divergent `scf.if`s become masks. Only the ops the fused matmul kernels use
are implemented; anything else raises, so a kernel change that needs more
fails loudly instead of being skipped.

Integers are held as int64 and wrapped to their width after each op; f32
arithmetic is done in float32 (fma rounds once, through float64), f16 in
float16; extf and truncf convert between f32 and f16/bf16. `mma.sync` multiplies exactly and sums in float64, then rounds to
f32 (the hardware's order of summation is unspecified).
"""

from __future__ import annotations

import re
import struct

import ml_dtypes
import numpy as np

_OP = re.compile(r'^\s*(?:(%[\w]+)(?::(\d+))? = )?"([\w.]+)"\((.*?)\)(.*)$')
_BLOCK = re.compile(r"^\s*\^bb\d+\((.*)\):\s*$")
_MEMREF = re.compile(r"memref<([\dx]+)x(\w+)>")


class Op:
    def __init__(self, result, count, name, operands, rest):
        self.result, self.count, self.name = result, int(count or 1), name
        self.operands = [o.strip() for o in operands.split(",") if o.strip()]
        self.rest = rest
        self.regions: list[list[tuple[list[str], list[Op]]]] = []
        self.arg_types: dict[str, str] = {}  # block arguments of its regions

    def attr(self, key: str) -> str:
        match = re.search(key + r" = ([^,}>]+(?:<[^>]*>)?)", self.rest)
        if not match:
            raise ValueError(f"{self.name}: no attribute {key} in {self.rest}")
        return match.group(1).strip()


def _parse(lines: list[str]) -> list[Op]:
    """Parses generic-form ops into a tree; returns the top-level ops."""
    root: list[Op] = []
    stack: list[list[Op]] = [root]
    op_stack: list[Op] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "{-#", "#-}")):
            continue
        block = _BLOCK.match(line)
        if block:
            typed = re.findall(r"(%\w+): (.+?)(?:, (?=%)|$)", block.group(1))
            args = [name for name, _ in typed]
            op_stack[-1].arg_types.update(typed)
            region = op_stack[-1].regions[-1]
            if region and not region[-1][0] and not region[-1][1]:
                region.pop()  # the placeholder of a region that has a header
            region.append((args, []))
            stack[-1] = op_stack[-1].regions[-1][-1][1]
            continue
        if stripped.startswith("})"):
            op_stack.pop()
            stack.pop()
            if stripped.startswith("}, {"):
                raise ValueError("multi-region op")
            continue
        if stripped.startswith("}, {"):
            op_stack[-1].regions.append([([], [])])
            stack[-1] = op_stack[-1].regions[-1][-1][1]
            continue
        match = _OP.match(line)
        if not match:
            continue
        op = Op(*match.groups())
        stack[-1].append(op)
        if stripped.endswith("({"):
            op.regions.append([([], [])])
            op_stack.append(op)
            stack.append(op.regions[-1][-1][1])
    return root


def _resources(text: str) -> dict[str, bytes]:
    blobs = {}
    for name, hexdata in re.findall(r'^\s+([\w.]+): "0x([0-9A-F]+)"', text, re.M):
        blobs[name] = bytes.fromhex(hexdata)[4:]  # drop the alignment word
    return blobs


_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
           "i32": np.int32, "i8": np.int8, "i64": np.int64}
_VECTOR = re.compile(r"vector<((?:\d+x)+)(\w+)>")


def _result_type(op: "Op") -> str:
    return op.rest.rsplit("->", 1)[-1].strip()


def _vector_shape(type_text: str) -> tuple[int, ...]:
    """The shape of a vector type (empty for a scalar type)."""
    match = _VECTOR.match(type_text.strip())
    return tuple(int(d) for d in match.group(1).rstrip("x").split("x")) if match else ()


def _static_position(op: "Op") -> tuple[int, ...]:
    match = re.search(r"static_position = array<i64(?:: ([\d, ]+))?>", op.rest)
    return tuple(int(p) for p in match.group(1).split(",")) if match and match.group(1) else ()


def _is_f16(op: "Op") -> bool:
    return _result_type(op).endswith("f16>") or _result_type(op) == "f16"


def _mma_sync(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """`mma.sync.m16n8k16` (f16 x f16 + f32) of every warp, on the lanes'
    fragments as PTX lays them out: lane l, g = l / 4, t = l % 4 holds
    A[g + 8 i][2 t + 8 j + e] in a[l][2 j + i][e], B[2 t + 8 i + e][g] in
    b[l][i][e] and C[g + 8 i][2 t + e] in c[l][i][e]."""
    threads = a.shape[0]
    out = np.empty((threads, 2, 2), dtype=np.float32)
    lanes = np.arange(32)
    g, t = lanes // 4, lanes % 4
    for warp in range(0, threads, 32):
        fa = a[warp:warp + 32].astype(np.float64)
        fb = b[warp:warp + 32].astype(np.float64)
        fc = c[warp:warp + 32].astype(np.float64)
        ma = np.zeros((16, 16))
        mb = np.zeros((16, 8))
        mc = np.zeros((16, 8))
        for i in range(2):
            for e in range(2):
                mb[2 * t + 8 * i + e, g] = fb[:, i, e]
                mc[g + 8 * i, 2 * t + e] = fc[:, i, e]
                for j in range(2):
                    ma[g + 8 * i, 2 * t + 8 * j + e] = fa[:, 2 * j + i, e]
        md = ma @ mb + mc
        for i in range(2):
            for e in range(2):
                out[warp:warp + 32, i, e] = md[g + 8 * i, 2 * t + e]
    return out


def _global_array(op: Op, blobs: dict[str, bytes]) -> np.ndarray:
    match = _MEMREF.search(op.rest)
    shape = [int(d) for d in match.group(1).split("x")]
    dtype = _DTYPES[match.group(2)]
    resource = re.search(r"dense_resource<([\w.]+)>", op.rest)
    if not resource:
        raise ValueError(f"global without a resource blob: {op.rest[:120]}")
    return np.frombuffer(blobs[resource.group(1)], dtype=dtype).reshape(shape).copy()


def _wrap(value: np.ndarray, bits: int) -> np.ndarray:
    if bits >= 64:  # index: int64 already
        return np.asarray(value, dtype=np.int64)
    value = np.asarray(value, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(value >= 1 << (bits - 1), value - (1 << bits), value)


def _int_bits(op: Op) -> int:
    kind = op.rest.rsplit("->", 1)[-1].strip()
    return 64 if kind == "index" else int(kind.lstrip("i"))


class _Machine:
    def __init__(self, memories: dict[str, np.ndarray], threads: int):
        self.mem = memories
        self.threads = threads

    def run(self, ops: list[Op], env: dict, mask: np.ndarray):
        for op in ops:
            if op.name in ("scf.yield", "gpu.terminator"):
                return [env[o] for o in op.operands]
            self.step(op, env, mask)
        return []

    def uniform(self, value) -> int:
        array = np.broadcast_to(value, (self.threads,))
        assert np.all(array == array[0]), "loop bound differs between threads"
        return int(array[0])

    def step(self, op: Op, env: dict, mask: np.ndarray):
        get = [env[o] if o in env else None for o in op.operands]
        name = op.name
        out = None
        if name == "arith.constant":
            value = op.attr("value").split(":")[0].strip()
            splat = re.search(r"value = dense<([^>]+)>", op.rest)
            if splat:
                shape = _vector_shape(_result_type(op))
                dtype = _DTYPES[_VECTOR.match(_result_type(op)).group(2)]
                out = np.full(shape, float(splat.group(1)), dtype=dtype)
            elif value in ("true", "false"):
                out = np.array(value == "true")
            else:
                out = np.float32(value) if ("." in value or "e" in value) else np.int64(value)
        elif name in ("arith.addi", "arith.muli", "arith.subi"):
            fn = {"arith.addi": np.add, "arith.muli": np.multiply,
                  "arith.subi": np.subtract}[name]
            out = _wrap(fn(np.int64(get[0]), np.int64(get[1])), _int_bits(op))
        elif name in ("arith.divui", "arith.remui", "arith.minui"):
            a, b = np.int64(get[0]), np.int64(get[1])
            if name == "arith.minui":
                out = np.minimum(a, b)
            else:
                out = a // b if name == "arith.divui" else a % b
        elif name in ("arith.andi", "arith.ori", "arith.xori"):
            fn = {"arith.andi": np.bitwise_and, "arith.ori": np.bitwise_or,
                  "arith.xori": np.bitwise_xor}[name]
            out = fn(get[0], get[1])
            if _int_bits(op) != 1:
                out = _wrap(out, _int_bits(op))
        elif name == "arith.shli":
            out = _wrap(np.int64(get[0]) << np.int64(get[1]), _int_bits(op))
        elif name == "arith.shrui":
            bits = _int_bits(op)
            out = _wrap((np.int64(get[0]) & ((1 << bits) - 1)) >> np.int64(get[1]), bits)
        elif name == "arith.shrsi":
            out = np.int64(get[0]) >> np.int64(get[1])
        elif name == "arith.cmpi":
            predicate = op.attr("predicate").split(":")[0].strip()
            a, b = np.int64(get[0]), np.int64(get[1])
            out = {"0": a == b, "1": a != b, "2": a < b, "3": a <= b, "4": a > b,
                   "5": a >= b, "6": a < b, "7": a <= b, "8": a > b, "9": a >= b}[predicate]
        elif name == "arith.select":
            cond = np.asarray(get[0])
            rank = len(_vector_shape(_result_type(op)))
            out = np.where(cond.reshape(cond.shape + (1,) * rank), get[1], get[2])
        elif name == "arith.bitcast":
            out = np.asarray(get[0], dtype=np.int64).astype(np.uint32).view(np.float32)
        elif name in ("arith.addf", "arith.subf", "arith.mulf"):
            fn = {"arith.addf": np.add, "arith.subf": np.subtract,
                  "arith.mulf": np.multiply}[name]
            # float16 results round the exact float32 result once.
            out = fn(np.float32(get[0]), np.float32(get[1])).astype(
                np.float16 if _is_f16(op) else np.float32)
        elif name in ("arith.maximumf", "arith.minimumf"):
            # NaN-propagating, as numpy's maximum and minimum are.
            fn = np.maximum if name == "arith.maximumf" else np.minimum
            out = fn(np.float32(get[0]), np.float32(get[1]))
        elif name == "arith.truncf":
            # To f16 or bf16 (the last type named), rounding to nearest even.
            target = _DTYPES[re.findall(r"b?f16", _result_type(op))[-1]]
            out = np.asarray(get[0], dtype=np.float32).astype(target)
        elif name == "arith.extf":
            out = np.asarray(get[0]).astype(np.float32)
        elif name == "math.fma":
            # One rounding of the exact result (exact in float64 for the
            # operands the kernels give it).
            wide = np.float64(get[0]) * np.float64(get[1]) + np.float64(get[2])
            out = wide.astype(np.float16 if _is_f16(op) else np.float32)
        elif name == "vector.extract":
            source = op.rest.rsplit("->", 1)[0].rsplit(":", 1)[-1].strip("() ")
            rank = len(_vector_shape(source))
            value = np.asarray(get[0])
            # The thread dimension (if any) comes first.
            out = value[(slice(None),) * (value.ndim - rank) + _static_position(op)]
        elif name == "vector.insert":
            position = _static_position(op)
            rank = len(_vector_shape(_result_type(op)))
            dest, source = np.asarray(get[1]), np.asarray(get[0])
            if dest.ndim > rank or source.ndim > rank - len(position):
                dest = np.broadcast_to(dest, (self.threads,) + dest.shape[dest.ndim - rank:])
            out = dest.copy()
            out[(slice(None),) * (out.ndim - rank) + position] = source
        elif name == "vector.broadcast":
            shape = _vector_shape(_result_type(op))
            value = np.asarray(get[0])
            out = value.reshape(value.shape + (1,) * len(shape)) * np.ones(shape, value.dtype)
        elif name == "vector.from_elements":
            out = np.stack(np.broadcast_arrays(*[np.asarray(v) for v in get]), axis=-1)
        elif name == "vector.bitcast":
            result = _VECTOR.match(_result_type(op))
            value = np.asarray(get[0])
            if value.dtype.kind in "iu":  # integers are held as int64
                value = value.astype(np.uint32)
            width = int(result.group(1).rstrip("x"))
            target = {"f16": np.float16, "i32": np.int32}[result.group(2)]
            out = np.ascontiguousarray(value).view(target).reshape(value.shape[:-1] + (width,))
            if target is np.int32:
                out = out.astype(np.int64)
        elif name == "nvgpu.mma.sync":
            out = _mma_sync(*(np.broadcast_to(v, (self.threads,) + np.shape(v)[-2:])
                              for v in get[:3]))
        elif name == "vector.load":
            memory = self.mem[op.operands[0]]
            width = int(re.search(r"vector<(\d+)x", op.rest).group(1))
            index = [np.broadcast_to(np.int64(i), (self.threads,)) for i in get[1:]]
            flat = np.ravel_multi_index(index, memory.shape)
            out = memory.reshape(-1)[flat[:, None] + np.arange(width)]
        elif name == "vector.store":
            memory = self.mem[op.operands[1]]
            index = [np.broadcast_to(np.int64(i), (self.threads,)) for i in get[2:]]
            flat = np.ravel_multi_index(index, memory.shape)
            value = np.broadcast_to(get[0], (self.threads, np.shape(get[0])[-1]))
            where = np.broadcast_to(mask, (self.threads,))
            memory.reshape(-1)[flat[where][:, None] + np.arange(value.shape[1])] = value[where]
        elif name == "memref.load":
            memory = self.mem[op.operands[0]]
            index = [np.broadcast_to(np.int64(i), (self.threads,)) for i in get[1:]]
            out = memory[tuple(index)]
        elif name == "memref.store":
            memory = self.mem[op.operands[1]]
            index = [np.broadcast_to(np.int64(i), (self.threads,)) for i in get[2:]]
            value = np.broadcast_to(get[0], (self.threads,))
            where = np.broadcast_to(mask, (self.threads,))
            memory[tuple(i[where] for i in index)] = value[where]
        elif name == "gpu.barrier":
            return  # the threads of a block run in lockstep: a no-op
        elif name == "gpu.shuffle":
            mode = op.attr("mode")
            assert "xor" in mode, mode
            offset, width = int(get[1]), int(get[2])
            lanes = np.arange(self.threads)
            partner = (lanes & ~(width - 1)) | ((lanes % width) ^ offset)
            value = np.broadcast_to(get[0], (self.threads,))
            env[op.result + "#0"] = value[partner]
            env[op.result + "#1"] = np.ones(self.threads, dtype=bool)
            return
        elif name == "scf.for":
            lower, upper, stride = (self.uniform(v) for v in get[:3])
            carried = get[3:]
            args, body = op.regions[0][0]
            for iv in range(lower, upper, stride):
                inner = dict(env)
                inner[args[0]] = np.int64(iv)
                inner.update(zip(args[1:], carried))
                carried = self.run(body, inner, mask)
            self.bind(op, env, carried)
            return
        elif name == "scf.if":
            cond = np.broadcast_to(get[0], (self.threads,))
            results = []
            then_ops = op.regions[0][0][1]
            if op.count and op.result:
                raise NotImplementedError("scf.if with results")
            self.run(then_ops, dict(env), mask & cond)
            if len(op.regions) > 1 and op.regions[1][0][1]:
                self.run(op.regions[1][0][1], dict(env), mask & ~cond)
            return
        else:
            raise NotImplementedError(f"the GPU emulator does not know {name}")
        self.bind(op, env, [out])

    @staticmethod
    def bind(op: Op, env: dict, values):
        if not op.result:
            return
        if op.count == 1 and len(values) == 1:
            env[op.result] = values[0]
        for i, value in enumerate(values):
            env[f"{op.result}#{i}"] = value


def emulate(ir_text: str, inputs: list[np.ndarray], outputs: list[tuple]) -> list[np.ndarray]:
    """Runs the module's single function on `inputs` (its leading memref
    arguments, in order), returning its output arguments, whose
    (shape, dtype) are given in `outputs`."""
    ops = _parse(ir_text.splitlines())
    module = ops[0]
    blobs = _resources(ir_text)
    top = module.regions[0][0][1]
    globals_ = {op.attr("sym_name").strip('"'): op for op in top if op.name == "memref.global"}
    func = next(op for op in top if op.name == "func.func")
    args, body = func.regions[0][0]
    results = [np.zeros(shape, dtype=dtype) for shape, dtype in outputs]
    memories = dict(zip(args, [np.array(i) for i in inputs] + results))
    env: dict = {}
    for op in body:
        if op.name == "memref.get_global":
            name = op.attr("name").lstrip("@")
            memories[op.result] = _global_array(globals_[name], blobs)
        elif op.name == "arith.constant":
            _Machine(memories, 1).step(op, env, np.ones(1, dtype=bool))
        elif op.name == "memref.alloc":
            match = _MEMREF.search(op.rest)
            shape = [int(d) for d in match.group(1).split("x")]
            memories[op.result] = np.zeros(shape, dtype=_DTYPES[match.group(2)])
        elif op.name == "gpu.launch":
            grid = [int(env[o]) for o in op.operands[:3]]
            block = [int(env[o]) for o in op.operands[3:6]]
            assert grid[1:] == [1, 1] and block[1:] == [1, 1], "1-D launches only"
            kernel_args, kernel = op.regions[0][0]
            threads = block[0]
            machine = _Machine(memories, threads)
            # After the 12 ids come workgroup (shared) buffers, fresh per block.
            shared = kernel_args[12:]
            for block_id in range(grid[0]):
                for name in shared:
                    match = re.search(r"memref<([\dx]+)x(\w+)", op.arg_types[name])
                    shape = [int(d) for d in match.group(1).split("x")]
                    memories[name] = np.zeros(shape, dtype=_DTYPES[match.group(2)])
                inner = dict(env)
                ids = [np.int64(block_id), np.int64(0), np.int64(0),
                       np.arange(threads, dtype=np.int64), np.int64(0), np.int64(0),
                       np.int64(grid[0]), np.int64(1), np.int64(1),
                       np.int64(threads), np.int64(1), np.int64(1)]
                inner.update(zip(kernel_args, ids))
                machine.run(kernel, inner, np.ones(threads, dtype=bool))
        elif op.name in ("func.return", "memref.dealloc"):
            continue
        else:
            raise NotImplementedError(f"host op {op.name} outside a kernel")
    return results
