//===- TensorOps.cpp - ONNX data movement and shape computations ----------===//
//
// Concat, Split, Slice, Gather, GatherElements, Squeeze, Unsqueeze, Flatten,
// Expand, Tile, Pad, Shape, Size, ConstantOfShape, Range and Trilu.
//
// Shape subgraphs fold at import: every shape is static, so Shape and Size
// are constants, and when all inputs of one of these ops are constants the
// converter computes the result (ConstantTensor) and emits a constant. That
// way Reshape, Expand, Tile, Pad and Slice downstream see constant
// parameters. Otherwise the ops lower to tensor.extract_slice /
// insert_slice, reshapes and linalg.generics; gathers and index-remapping
// ops (negative-step Slice, edge/reflect/wrap Pad) read their data with
// tensor.extract inside the generic body.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <cstring>

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

//===----------------------------------------------------------------------===//
// Constant evaluation at import
//===----------------------------------------------------------------------===//

namespace {

/// The elements of a constant tensor, read at import so shape computations
/// (Shape -> Gather -> Concat -> Reshape, ...) fold to constants. Integer
/// and bool elements live in `ints` (sign- or zero-extended per the ONNX
/// type), float elements in `floats`; only one of the two is filled.
struct ConstantTensor {
  RankedTensorType type;
  SmallVector<int64_t> ints;
  SmallVector<double> floats;

  bool isFloat() const { return isa<FloatType>(type.getElementType()); }
  ArrayRef<int64_t> shape() const { return type.getShape(); }
  int64_t numElements() const { return type.getNumElements(); }

  /// The same elements under another shape of the same element count.
  ConstantTensor reshaped(ArrayRef<int64_t> newShape) const {
    ConstantTensor result = *this;
    result.type = RankedTensorType::get(newShape, type.getElementType());
    return result;
  }

  /// A tensor of `newShape` whose i-th element is this tensor's element
  /// `sourceOffsets[i]` (row-major offsets).
  ConstantTensor gathered(ArrayRef<int64_t> newShape,
                          ArrayRef<int64_t> sourceOffsets) const {
    ConstantTensor result;
    result.type = RankedTensorType::get(newShape, type.getElementType());
    for (int64_t offset : sourceOffsets) {
      if (isFloat())
        result.floats.push_back(floats[offset]);
      else
        result.ints.push_back(ints[offset]);
    }
    return result;
  }
};

} // namespace

/// Constants with more elements than this are weights, not shape data: they
/// are not read into a ConstantTensor (the op is emitted as IR instead).
static constexpr int64_t kMaxFoldedElements = int64_t(1) << 20;

/// The float elements of `attr` as doubles: dense attributes through
/// APFloat, resource blobs from their raw little-endian bytes.
static std::optional<SmallVector<double>>
readFloatsAsDouble(Attribute attr, FloatType type, int64_t count) {
  auto toDouble = [](APFloat v) {
    bool lostPrecision = false;
    v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven,
              &lostPrecision);
    return v.convertToDouble();
  };
  SmallVector<double> values;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    for (APFloat v : dense.getValues<APFloat>())
      values.push_back(toDouble(v));
    return values;
  }
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  AsmResourceBlob *blob =
      resource ? resource.getRawHandle().getBlob() : nullptr;
  unsigned width = type.getWidth();
  if (!blob || width % 8 != 0 || width > 64)
    return std::nullopt;
  ArrayRef<char> data = blob->getData();
  size_t elementBytes = width / 8;
  bool splat = data.size() == elementBytes;
  if (!splat && data.size() != count * elementBytes)
    return std::nullopt;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t bits = 0;
    std::memcpy(&bits, data.data() + (splat ? 0 : i * elementBytes),
                elementBytes);
    values.push_back(
        toDouble(APFloat(type.getFloatSemantics(), APInt(width, bits))));
  }
  return values;
}

/// The constant behind `value` (an arith.constant), or nullopt when `value`
/// is not a constant, its element type is not an integer of at most 64
/// bits, bool or float, or it has more than kMaxFoldedElements elements.
/// `isUnsigned` says how to extend integer elements.
static std::optional<ConstantTensor> readConstantTensor(Value value,
                                                        bool isUnsigned) {
  Attribute attr = getConstantElements(value);
  auto type = dyn_cast_or_null<RankedTensorType>(
      attr ? cast<TypedAttr>(attr).getType() : Type());
  if (!type || !type.hasStaticShape() ||
      type.getNumElements() > kMaxFoldedElements)
    return std::nullopt;
  ConstantTensor result;
  result.type = type;
  Type elementType = type.getElementType();
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    std::optional<SmallVector<double>> floats =
        readFloatsAsDouble(attr, floatType, type.getNumElements());
    if (!floats)
      return std::nullopt;
    result.floats = std::move(*floats);
    return result;
  }
  if (elementType.isInteger(1)) {
    auto dense = dyn_cast<DenseElementsAttr>(attr);
    if (!dense)
      return std::nullopt;
    for (bool bit : dense.getValues<bool>())
      result.ints.push_back(bit);
    return result;
  }
  std::optional<SmallVector<int64_t>> ints = readIntElements(attr, !isUnsigned);
  if (!ints)
    return std::nullopt;
  result.ints = std::move(*ints);
  return result;
}

/// An arith.constant holding `tensor` (splats as splat attributes, large
/// tensors as dense_resource blobs like the model's weights).
static Value buildConstantTensor(OpBuilder &b, Location loc,
                                 const ConstantTensor &tensor) {
  RankedTensorType type = tensor.type;
  Type elementType = type.getElementType();
  int64_t count = tensor.numElements();
  bool splat = count > 1 && (tensor.isFloat() ? llvm::all_equal(tensor.floats)
                                              : llvm::all_equal(tensor.ints));
  ElementsAttr attr;
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    auto toElement = [&](double v) {
      bool lostPrecision = false;
      APFloat f(v);
      f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &lostPrecision);
      return f;
    };
    if (splat) {
      attr = DenseElementsAttr::get(type, toElement(tensor.floats.front()));
    } else if (elementType.isF32()) {
      SmallVector<float> values(tensor.floats.begin(), tensor.floats.end());
      attr = makeFloatConstant(type, values, "folded");
    } else {
      SmallVector<APFloat> values;
      for (double v : tensor.floats)
        values.push_back(toElement(v));
      attr = DenseElementsAttr::get(type, values);
    }
  } else if (elementType.isInteger(1)) {
    SmallVector<bool> bits(tensor.ints.begin(), tensor.ints.end());
    attr = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  } else if (splat) {
    unsigned width = elementType.getIntOrFloatBitWidth();
    attr = DenseElementsAttr::get(
        type, APInt(width, static_cast<uint64_t>(tensor.ints.front()),
                    /*isSigned=*/false, /*implicitTrunc=*/true));
  } else {
    attr = makeIntConstant(type, tensor.ints, "folded");
  }
  return arith::ConstantOp::create(b, loc, cast<TypedAttr>(attr));
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// The element count of a shape.
static int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    p *= d;
  return p;
}

/// "[2, 3, 4]" for messages.
static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(d);
  return text + "]";
}

/// `axis` made non-negative for a rank-`rank` tensor; an error when it lies
/// outside [-rank, rank).
llvm::Expected<int64_t> mlir::nibble::onnx_import::resolveAxis(NodeImporter &imp,
                                                              int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return imp.fail("axis " + llvm::Twine(axis) + " is out of range for rank " +
                    llvm::Twine(rank));
  return axis < 0 ? axis + rank : axis;
}

/// Resolves every axis of `axes` against `rank` and rejects duplicates.
static llvm::Expected<SmallVector<int64_t>>
resolveAxes(NodeImporter &imp, ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<int64_t> resolved;
  SmallVector<bool> seen(rank, false);
  for (int64_t axis : axes) {
    llvm::Expected<int64_t> a = resolveAxis(imp, axis, rank);
    if (!a)
      return a.takeError();
    if (seen[*a])
      return imp.fail("axis " + llvm::Twine(*a) + " is listed twice");
    seen[*a] = true;
    resolved.push_back(*a);
  }
  return resolved;
}

/// The constant behind `v`, or nullopt if it is computed at run time (or is
/// too large to fold).
static std::optional<ConstantTensor> constantOf(const OnnxValue &v) {
  return readConstantTensor(v.value, isUnsignedOnnxType(v.onnxType));
}

/// The constant behind data input `v` of an op whose result has
/// `resultShape`, or nullopt when either is too large to fold (a weight
/// rather than shape data: the op is emitted as IR).
static std::optional<ConstantTensor>
foldableData(const OnnxValue &v, ArrayRef<int64_t> resultShape) {
  if (product(resultShape) > kMaxFoldedElements)
    return std::nullopt;
  return constantOf(v);
}

/// Input `i` as a constant tensor; an error saying it must be known at
/// compile time when it is not.
static llvm::Expected<ConstantTensor>
requireConstantInput(NodeImporter &imp, int i, llvm::StringRef what) {
  llvm::Expected<OnnxValue> v = imp.input(i);
  if (!v)
    return v.takeError();
  if (std::optional<ConstantTensor> c = constantOf(*v))
    return *c;
  return imp.fail(what + " ('" + imp.node().input(i) +
                  "') is computed at run time, but nibble needs it at "
                  "compile time; if it is a graph input, freeze it with --bind-input");
}

/// Input `i` as a constant list of integers (int32 or int64).
static llvm::Expected<SmallVector<int64_t>>
requireConstantInts(NodeImporter &imp, int i, llvm::StringRef what) {
  llvm::Expected<ConstantTensor> c = requireConstantInput(imp, i, what);
  if (!c)
    return c.takeError();
  if (c->isFloat())
    return imp.fail(what + " must be an integer tensor");
  return std::move(c->ints);
}

/// An integer list that is attribute `name` before opset `inputSince` and
/// optional input `inputIndex` from then on; nullopt when absent.
static llvm::Expected<std::optional<SmallVector<int64_t>>>
attrOrInputInts(NodeImporter &imp, llvm::StringRef name, int64_t inputSince,
                int inputIndex) {
  if (imp.opset() < inputSince)
    return imp.intsAttr(name);
  if (!imp.hasInput(inputIndex))
    return std::nullopt;
  llvm::Expected<SmallVector<int64_t>> values =
      requireConstantInts(imp, inputIndex, name);
  if (!values)
    return values.takeError();
  return std::optional<SmallVector<int64_t>>(std::move(*values));
}

/// Binds output `i` to a constant holding `value`.
static void setConstantOutput(NodeImporter &imp, int i,
                              const ConstantTensor &value, int32_t onnxType) {
  imp.setOutput(i, buildConstantTensor(imp.builder(), imp.loc(), value),
                onnxType);
}

/// An int64 1-D or scalar constant tensor (Shape, Size).
static ConstantTensor int64Constant(MLIRContext *ctx, ArrayRef<int64_t> shape,
                                    ArrayRef<int64_t> values) {
  ConstantTensor result;
  result.type = RankedTensorType::get(shape, IntegerType::get(ctx, 64));
  result.ints.assign(values.begin(), values.end());
  return result;
}

//===----------------------------------------------------------------------===//
// Folding: data movement on ConstantTensors
//===----------------------------------------------------------------------===//

/// Maps an output multi-index to the source multi-index it copies.
using SourceIndexFn = llvm::function_ref<void(ArrayRef<int64_t> out,
                                              SmallVectorImpl<int64_t> &src)>;

/// Folds a data-movement op: the element of the result (of `outShape`) at
/// each index is `src`'s element at `sourceIndex(index)`.
static ConstantTensor foldByIndex(const ConstantTensor &src,
                                  ArrayRef<int64_t> outShape,
                                  SourceIndexFn sourceIndex) {
  SmallVector<int64_t> offsets;
  offsets.reserve(product(outShape));
  if (product(outShape) > 0) {
    SmallVector<int64_t> out(outShape.size(), 0), in;
    ArrayRef<int64_t> srcShape = src.shape();
    while (true) {
      in.clear();
      sourceIndex(out, in);
      int64_t offset = 0;
      for (auto [d, i] : llvm::enumerate(in))
        offset = offset * srcShape[d] + i;
      offsets.push_back(offset);
      int64_t d = static_cast<int64_t>(outShape.size()) - 1;
      for (; d >= 0; --d) {
        if (++out[d] < outShape[d])
          break;
        out[d] = 0;
      }
      if (d < 0)
        break;
    }
  }
  return src.gathered(outShape, offsets);
}

/// Folds a box slice: output index i reads start + i * step on every dim.
static ConstantTensor foldStridedSlice(const ConstantTensor &src,
                                       ArrayRef<int64_t> starts,
                                       ArrayRef<int64_t> sizes,
                                       ArrayRef<int64_t> steps) {
  return foldByIndex(src, sizes,
                     [&](ArrayRef<int64_t> out, SmallVectorImpl<int64_t> &in) {
                       for (size_t d = 0; d < out.size(); ++d)
                         in.push_back(starts[d] + out[d] * steps[d]);
                     });
}

//===----------------------------------------------------------------------===//
// IR builders
//===----------------------------------------------------------------------===//

using IndexedBody = llvm::function_ref<Value(
    OpBuilder &, Location, ValueRange outIndices, ValueRange inputScalars)>;

/// A linalg.generic producing a tensor of `shape`: `inputs` are read through
/// `inputMaps`; `body` gets the output index (linalg.index per dim) and the
/// input scalars and returns the element. The body may tensor.extract from
/// tensors defined outside the generic.
static Value buildIndexedGeneric(OpBuilder &b, Location loc,
                                 ArrayRef<int64_t> shape, Type elementType,
                                 ValueRange inputs,
                                 ArrayRef<AffineMap> inputMaps,
                                 IndexedBody body) {
  Value init = tensor::EmptyOp::create(b, loc, shape, elementType);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(shape.size()));
  SmallVector<utils::IteratorType> iterators(shape.size(),
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> indices;
        for (size_t d = 0; d < shape.size(); ++d)
          indices.push_back(linalg::IndexOp::create(nb, nl, d));
        linalg::YieldOp::create(nb, nl,
                                body(nb, nl, indices, args.drop_back()));
      });
  return generic.getResult(0);
}

/// An arith.constant of index type.
static Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// A run-time gather index `raw` (an integer) as an index into a dim
/// of size `dimSize`: negative values count from the end, and the result is
/// clamped into [0, dimSize) so a bad index cannot read out of bounds.
static Value normalizeGatherIndex(OpBuilder &b, Location loc, Value raw,
                                  int64_t dimSize) {
  Value index = arith::IndexCastOp::create(b, loc, b.getIndexType(), raw);
  Value zero = indexConstant(b, loc, 0);
  Value size = indexConstant(b, loc, dimSize);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, index, zero);
  Value wrapped = arith::AddIOp::create(b, loc, index, size);
  index = arith::SelectOp::create(b, loc, negative, wrapped, index);
  index = arith::MaxSIOp::create(b, loc, index, zero);
  return arith::MinSIOp::create(b, loc, index,
                                indexConstant(b, loc, dimSize - 1));
}

/// tensor.extract_slice of `input` at `offsets` with `sizes` and (positive)
/// `strides`; `input` itself when the slice is the whole tensor.
static Value buildSlice(OpBuilder &b, Location loc, Value input,
                        ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes,
                        ArrayRef<int64_t> strides) {
  RankedTensorType type = tensorTypeOf(input);
  if (type.getShape() == sizes)
    return input;
  auto resultType = RankedTensorType::get(sizes, type.getElementType());
  // An empty slice may start at the end, which extract_slice rejects.
  if (llvm::is_contained(sizes, 0))
    return tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, loc, resultType, input, indexAttrs(b, offsets), indexAttrs(b, sizes),
      indexAttrs(b, strides));
}

/// A tensor of `shape` filled with the scalar `value`.
static Value buildFilled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                         Value value) {
  Value empty = tensor::EmptyOp::create(b, loc, shape, value.getType());
  return linalg::FillOp::create(b, loc, value, empty).getResult(0);
}

/// The single element of a one-element tensor as a scalar value: an
/// arith.constant when the tensor is a constant, else a tensor.extract.
static Value extractOnlyElement(OpBuilder &b, Location loc,
                                const OnnxValue &tensor) {
  RankedTensorType type = tensorTypeOf(tensor.value);
  if (std::optional<ConstantTensor> c = constantOf(tensor)) {
    Type elementType = type.getElementType();
    TypedAttr element =
        c->isFloat()
            ? TypedAttr(b.getFloatAttr(elementType, c->floats.front()))
            : TypedAttr(b.getIntegerAttr(elementType, c->ints.front()));
    return arith::ConstantOp::create(b, loc, element);
  }
  SmallVector<Value> zeros;
  if (type.getRank() > 0)
    zeros.assign(type.getRank(), indexConstant(b, loc, 0));
  return tensor::ExtractOp::create(b, loc, tensor.value, zeros);
}

//===----------------------------------------------------------------------===//
// Concat and Split
//===----------------------------------------------------------------------===//

/// Concat: constants fold; otherwise each part is inserted into an empty
/// tensor of the output shape (zero-size parts are skipped).
static llvm::Error convertConcat(NodeImporter &imp) {
  llvm::Expected<SmallVector<OnnxValue, 4>> parts = imp.inputs(imp.numInputs());
  if (!parts)
    return parts.takeError();
  if (parts->empty())
    return imp.fail("has no inputs");
  std::optional<int64_t> axisAttr = imp.intAttr("axis");
  if (!axisAttr)
    return imp.fail("has no axis attribute");
  RankedTensorType firstType = tensorTypeOf(parts->front().value);
  int64_t rank = firstType.getRank();
  llvm::Expected<int64_t> axis = resolveAxis(imp, *axisAttr, rank);
  if (!axis)
    return axis.takeError();
  SmallVector<int64_t> outShape(firstType.getShape());
  outShape[*axis] = 0;
  for (const OnnxValue &part : *parts) {
    RankedTensorType type = tensorTypeOf(part.value);
    if (type.getElementType() != firstType.getElementType())
      return imp.fail("inputs have different element types");
    bool fits = type.getRank() == rank;
    for (int64_t d = 0; fits && d < rank; ++d)
      fits = d == *axis || type.getDimSize(d) == outShape[d];
    if (!fits)
      return imp.fail("input shapes " + shapeString(firstType.getShape()) +
                      " and " + shapeString(type.getShape()) +
                      " differ outside axis " + llvm::Twine(*axis));
    outShape[*axis] += type.getDimSize(*axis);
  }
  int32_t onnxType = parts->front().onnxType;

  SmallVector<ConstantTensor> constants;
  for (const OnnxValue &part : *parts)
    if (std::optional<ConstantTensor> c = foldableData(part, outShape))
      constants.push_back(std::move(*c));
  if (constants.size() == parts->size()) {
    // Row-major: for each index before the axis, each part's block in turn.
    ConstantTensor result;
    result.type = RankedTensorType::get(outShape, firstType.getElementType());
    int64_t outer = product(ArrayRef<int64_t>(outShape).take_front(*axis));
    for (int64_t o = 0; o < outer; ++o)
      for (const ConstantTensor &c : constants) {
        int64_t block = product(c.shape().drop_front(*axis));
        if (c.isFloat())
          llvm::append_range(result.floats,
                             ArrayRef(c.floats).slice(o * block, block));
        else
          llvm::append_range(result.ints,
                             ArrayRef(c.ints).slice(o * block, block));
      }
    setConstantOutput(imp, 0, result, onnxType);
    return llvm::Error::success();
  }

  OpBuilder &b = imp.builder();
  Value result = tensor::EmptyOp::create(b, imp.loc(), outShape,
                                         firstType.getElementType());
  SmallVector<int64_t> offsets(rank, 0);
  for (const OnnxValue &part : *parts) {
    RankedTensorType type = tensorTypeOf(part.value);
    if (type.getNumElements() == 0)
      continue;
    result = buildInsert(b, imp.loc(), part.value, result, offsets);
    offsets[*axis] += type.getDimSize(*axis);
  }
  imp.setOutput(0, result, onnxType);
  return llvm::Error::success();
}

/// The sizes of Split's outputs along the axis of size `dimSize`: the split
/// attribute (before opset 13) or input (from 13), else equal parts of
/// ceil(dimSize / n) with a smaller last part, n from num_outputs (opset 18)
/// or the number of outputs.
static llvm::Expected<SmallVector<int64_t>> splitSizes(NodeImporter &imp,
                                                       int64_t dimSize) {
  int64_t numOutputs = imp.node().output_size();
  llvm::Expected<std::optional<SmallVector<int64_t>>> given =
      attrOrInputInts(imp, "split", 13, 1);
  if (!given)
    return given.takeError();
  if (*given) {
    SmallVector<int64_t> sizes = std::move(**given);
    if (static_cast<int64_t>(sizes.size()) != numOutputs)
      return imp.fail("split has " + llvm::Twine(sizes.size()) +
                      " entries for " + llvm::Twine(numOutputs) + " outputs");
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0)
        return imp.fail("split has a negative size " + llvm::Twine(s));
      total += s;
    }
    if (total != dimSize)
      return imp.fail("split sizes add up to " + llvm::Twine(total) +
                      " but the axis has " + llvm::Twine(dimSize));
    return sizes;
  }
  int64_t parts = numOutputs;
  if (imp.opset() >= 18)
    if (std::optional<int64_t> n = imp.intAttr("num_outputs")) {
      if (*n != numOutputs)
        return imp.fail("num_outputs is " + llvm::Twine(*n) +
                        " but the node has " + llvm::Twine(numOutputs) +
                        " outputs");
      parts = *n;
    }
  if (parts <= 0)
    return imp.fail("has no outputs");
  int64_t chunk = llvm::divideCeil(dimSize, parts);
  SmallVector<int64_t> sizes(parts, chunk);
  sizes.back() = dimSize - chunk * (parts - 1);
  if (sizes.back() < 0)
    return imp.fail("cannot split an axis of " + llvm::Twine(dimSize) +
                    " into " + llvm::Twine(parts) + " parts");
  return sizes;
}

/// Split: one slice per output along the axis (folded for constants).
static llvm::Error convertSplit(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  llvm::Expected<int64_t> axis =
      resolveAxis(imp, imp.intAttr("axis").value_or(0), type.getRank());
  if (!axis)
    return axis.takeError();
  llvm::Expected<SmallVector<int64_t>> sizes =
      splitSizes(imp, type.getDimSize(*axis));
  if (!sizes)
    return sizes.takeError();
  std::optional<ConstantTensor> constant = constantOf(*x);
  SmallVector<int64_t> offsets(type.getRank(), 0), steps(type.getRank(), 1);
  SmallVector<int64_t> shape(type.getShape());
  for (auto [i, size] : llvm::enumerate(*sizes)) {
    shape[*axis] = size;
    if (constant)
      setConstantOutput(imp, i,
                        foldStridedSlice(*constant, offsets, shape, steps),
                        x->onnxType);
    else
      imp.setOutput(
          i,
          buildSlice(imp.builder(), imp.loc(), x->value, offsets, shape, steps),
          x->onnxType);
    offsets[*axis] += size;
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

/// The per-dim start, size and step of a Slice, all dims filled in.
struct SliceBox {
  SmallVector<int64_t> starts, sizes, steps;
};

/// Applies Slice's clamping rules to the given starts/ends/axes/steps of an
/// input of `shape`.
static llvm::Expected<SliceBox>
resolveSlice(NodeImporter &imp, ArrayRef<int64_t> shape,
             ArrayRef<int64_t> starts, ArrayRef<int64_t> ends,
             std::optional<SmallVector<int64_t>> axes,
             std::optional<SmallVector<int64_t>> steps) {
  int64_t rank = shape.size();
  if (starts.size() != ends.size())
    return imp.fail("starts and ends have different lengths");
  if (!axes)
    axes = llvm::to_vector(llvm::seq<int64_t>(0, starts.size()));
  if (!steps)
    steps = SmallVector<int64_t>(starts.size(), 1);
  if (axes->size() != starts.size() || steps->size() != starts.size())
    return imp.fail("starts, ends, axes and steps have different lengths");
  llvm::Expected<SmallVector<int64_t>> dims = resolveAxes(imp, *axes, rank);
  if (!dims)
    return dims.takeError();
  SliceBox box{SmallVector<int64_t>(rank, 0), SmallVector<int64_t>(shape),
               SmallVector<int64_t>(rank, 1)};
  for (auto [i, d] : llvm::enumerate(*dims)) {
    int64_t size = shape[d], step = (*steps)[i];
    if (step == 0)
      return imp.fail("steps must not be 0");
    int64_t start = starts[i], end = ends[i];
    if (start < 0)
      start += size;
    if (end < 0)
      end += size;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, size);
      end = std::clamp<int64_t>(end, 0, size);
      box.sizes[d] = end > start ? llvm::divideCeil(end - start, step) : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(size - 1, 0));
      end = std::clamp<int64_t>(end, -1, size - 1);
      box.sizes[d] =
          start > end && size > 0 ? llvm::divideCeil(start - end, -step) : 0;
    }
    box.starts[d] = start;
    box.steps[d] = step;
  }
  return box;
}

/// Slice: attributes before opset 10, inputs (which must be constant) from
/// it. Positive steps become one extract_slice; negative steps a generic
/// that reads start + i * step on each dim.
static llvm::Error convertSlice(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  SmallVector<int64_t> starts, ends;
  std::optional<SmallVector<int64_t>> axes, steps;
  if (imp.opset() < 10) {
    std::optional<SmallVector<int64_t>> s = imp.intsAttr("starts");
    std::optional<SmallVector<int64_t>> e = imp.intsAttr("ends");
    if (!s || !e)
      return imp.fail("needs the starts and ends attributes");
    starts = *s;
    ends = *e;
    axes = imp.intsAttr("axes");
  } else {
    llvm::Expected<SmallVector<int64_t>> s =
        requireConstantInts(imp, 1, "starts");
    if (!s)
      return s.takeError();
    llvm::Expected<SmallVector<int64_t>> e =
        requireConstantInts(imp, 2, "ends");
    if (!e)
      return e.takeError();
    starts = *s;
    ends = *e;
    llvm::Expected<std::optional<SmallVector<int64_t>>> a =
        attrOrInputInts(imp, "axes", 10, 3);
    if (!a)
      return a.takeError();
    llvm::Expected<std::optional<SmallVector<int64_t>>> st =
        attrOrInputInts(imp, "steps", 10, 4);
    if (!st)
      return st.takeError();
    axes = *a;
    steps = *st;
  }
  RankedTensorType type = tensorTypeOf(x->value);
  llvm::Expected<SliceBox> box =
      resolveSlice(imp, type.getShape(), starts, ends, axes, steps);
  if (!box)
    return box.takeError();

  if (std::optional<ConstantTensor> constant = constantOf(*x)) {
    setConstantOutput(
        imp, 0,
        foldStridedSlice(*constant, box->starts, box->sizes, box->steps),
        x->onnxType);
    return llvm::Error::success();
  }
  OpBuilder &b = imp.builder();
  Value result;
  if (llvm::all_of(box->steps, [](int64_t s) { return s > 0; })) {
    result =
        buildSlice(b, imp.loc(), x->value, box->starts, box->sizes, box->steps);
  } else {
    result = buildIndexedGeneric(
        b, imp.loc(), box->sizes, type.getElementType(), {}, {},
        [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange) -> Value {
          SmallVector<Value> in;
          for (auto [d, i] : llvm::enumerate(out)) {
            Value scaled = arith::MulIOp::create(
                nb, nl, i, indexConstant(nb, nl, box->steps[d]));
            in.push_back(arith::AddIOp::create(
                nb, nl, scaled, indexConstant(nb, nl, box->starts[d])));
          }
          return tensor::ExtractOp::create(nb, nl, x->value, in);
        });
  }
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Gather and GatherElements
//===----------------------------------------------------------------------===//

/// Checks constant gather indices against a dim of `dimSize` and makes them
/// non-negative.
static llvm::Error normalizeConstantIndices(NodeImporter &imp,
                                            ConstantTensor &indices,
                                            int64_t dimSize) {
  for (int64_t &index : indices.ints) {
    if (index < -dimSize || index >= dimSize)
      return imp.fail("index " + llvm::Twine(index) +
                      " is out of range for an axis of size " +
                      llvm::Twine(dimSize));
    if (index < 0)
      index += dimSize;
  }
  return llvm::Error::success();
}

/// The indices input of Gather/GatherElements, which must be an integer
/// tensor.
static llvm::Expected<OnnxValue> gatherIndices(NodeImporter &imp) {
  llvm::Expected<OnnxValue> indices = imp.input(1);
  if (!indices)
    return indices.takeError();
  Type elementType = tensorTypeOf(indices->value).getElementType();
  if (!isa<IntegerType>(elementType) || elementType.isInteger(1))
    return imp.fail("indices must be int32 or int64, got " +
                    onnxTypeName(indices->onnxType));
  return indices;
}

/// Gather along `axis`: output[pre, idx..., post] = data[pre, indices[idx],
/// post]. A scalar constant index is a rank-reducing extract_slice; other
/// indices drive a generic that extracts from the data.
static llvm::Error convertGather(NodeImporter &imp) {
  llvm::Expected<OnnxValue> data = imp.input(0);
  if (!data)
    return data.takeError();
  llvm::Expected<OnnxValue> indices = gatherIndices(imp);
  if (!indices)
    return indices.takeError();
  RankedTensorType dataType = tensorTypeOf(data->value);
  RankedTensorType indicesType = tensorTypeOf(indices->value);
  llvm::Expected<int64_t> axis =
      resolveAxis(imp, imp.intAttr("axis").value_or(0), dataType.getRank());
  if (!axis)
    return axis.takeError();
  int64_t dimSize = dataType.getDimSize(*axis);
  int64_t indexRank = indicesType.getRank();
  SmallVector<int64_t> outShape(dataType.getShape().take_front(*axis));
  llvm::append_range(outShape, indicesType.getShape());
  llvm::append_range(outShape, dataType.getShape().drop_front(*axis + 1));

  std::optional<ConstantTensor> constIndices = constantOf(*indices);
  if (constIndices)
    if (llvm::Error err = normalizeConstantIndices(imp, *constIndices, dimSize))
      return err;
  std::optional<ConstantTensor> constData = foldableData(*data, outShape);
  if (constIndices && constData) {
    ConstantTensor result =
        foldByIndex(*constData, outShape,
                    [&](ArrayRef<int64_t> out, SmallVectorImpl<int64_t> &in) {
                      int64_t flat = 0;
                      for (int64_t q = 0; q < indexRank; ++q)
                        flat =
                            flat * indicesType.getDimSize(q) + out[*axis + q];
                      llvm::append_range(in, out.take_front(*axis));
                      in.push_back(constIndices->ints[flat]);
                      llvm::append_range(in, out.drop_front(*axis + indexRank));
                    });
    setConstantOutput(imp, 0, result, data->onnxType);
    return llvm::Error::success();
  }

  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value result;
  if (constIndices && indexRank == 0) {
    SmallVector<int64_t> offsets(dataType.getRank(), 0);
    SmallVector<int64_t> sizes(dataType.getShape());
    SmallVector<int64_t> strides(dataType.getRank(), 1);
    offsets[*axis] = constIndices->ints.front();
    sizes[*axis] = 1;
    auto resultType =
        RankedTensorType::get(outShape, dataType.getElementType());
    result = tensor::ExtractSliceOp::create(
        b, loc, resultType, data->value, indexAttrs(b, offsets),
        indexAttrs(b, sizes), indexAttrs(b, strides));
  } else {
    SmallVector<AffineExpr> indexExprs;
    for (int64_t q = 0; q < indexRank; ++q)
      indexExprs.push_back(b.getAffineDimExpr(*axis + q));
    AffineMap indexMap =
        AffineMap::get(outShape.size(), 0, indexExprs, b.getContext());
    result = buildIndexedGeneric(
        b, loc, outShape, dataType.getElementType(), {indices->value},
        {indexMap},
        [&](OpBuilder &nb, Location nl, ValueRange out,
            ValueRange args) -> Value {
          SmallVector<Value> in(out.take_front(*axis));
          in.push_back(normalizeGatherIndex(nb, nl, args[0], dimSize));
          llvm::append_range(in, out.drop_front(*axis + indexRank));
          return tensor::ExtractOp::create(nb, nl, data->value, in);
        });
    // A lookup in a constant table (an embedding) is a weight layer the
    // quantizer may shrink.
    if (data->value.getDefiningOp<arith::ConstantOp>())
      setLayerAttrs(result.getDefiningOp(), imp.nodeName(), imp.node().op_type());
  }
  imp.setOutput(0, result, data->onnxType);
  return llvm::Error::success();
}

/// GatherElements: output[i] = data[i with i[axis] = indices[i]].
static llvm::Error convertGatherElements(NodeImporter &imp) {
  llvm::Expected<OnnxValue> data = imp.input(0);
  if (!data)
    return data.takeError();
  llvm::Expected<OnnxValue> indices = gatherIndices(imp);
  if (!indices)
    return indices.takeError();
  RankedTensorType dataType = tensorTypeOf(data->value);
  RankedTensorType indicesType = tensorTypeOf(indices->value);
  int64_t rank = dataType.getRank();
  llvm::Expected<int64_t> axis =
      resolveAxis(imp, imp.intAttr("axis").value_or(0), rank);
  if (!axis)
    return axis.takeError();
  bool fits = indicesType.getRank() == rank;
  for (int64_t d = 0; fits && d < rank; ++d)
    fits = d == *axis || indicesType.getDimSize(d) <= dataType.getDimSize(d);
  if (!fits)
    return imp.fail("indices shape " + shapeString(indicesType.getShape()) +
                    " does not fit data shape " +
                    shapeString(dataType.getShape()));
  int64_t dimSize = dataType.getDimSize(*axis);
  ArrayRef<int64_t> outShape = indicesType.getShape();

  std::optional<ConstantTensor> constIndices = constantOf(*indices);
  if (constIndices)
    if (llvm::Error err = normalizeConstantIndices(imp, *constIndices, dimSize))
      return err;
  std::optional<ConstantTensor> constData = foldableData(*data, outShape);
  if (constIndices && constData) {
    ConstantTensor result =
        foldByIndex(*constData, outShape,
                    [&](ArrayRef<int64_t> out, SmallVectorImpl<int64_t> &in) {
                      int64_t flat = 0;
                      for (auto [d, i] : llvm::enumerate(out))
                        flat = flat * outShape[d] + i;
                      llvm::append_range(in, out);
                      in[*axis] = constIndices->ints[flat];
                    });
    setConstantOutput(imp, 0, result, data->onnxType);
    return llvm::Error::success();
  }

  OpBuilder &b = imp.builder();
  Value result = buildIndexedGeneric(
      b, imp.loc(), outShape, dataType.getElementType(), {indices->value},
      {b.getMultiDimIdentityMap(rank)},
      [&](OpBuilder &nb, Location nl, ValueRange out,
          ValueRange args) -> Value {
        SmallVector<Value> in(out);
        in[*axis] = normalizeGatherIndex(nb, nl, args[0], dimSize);
        return tensor::ExtractOp::create(nb, nl, data->value, in);
      });
  imp.setOutput(0, result, data->onnxType);
  return llvm::Error::success();
}

/// GatherND: output[b..., i..., rest...] = data[b..., indices[b..., i..., :],
/// rest...], with `batch_dims` leading dims shared by data and indices.
static llvm::Error convertGatherND(NodeImporter &imp) {
  llvm::Expected<OnnxValue> data = imp.input(0);
  if (!data)
    return data.takeError();
  llvm::Expected<OnnxValue> indices = gatherIndices(imp);
  if (!indices)
    return indices.takeError();
  RankedTensorType dataType = tensorTypeOf(data->value);
  RankedTensorType indicesType = tensorTypeOf(indices->value);
  int64_t batchDims = imp.intAttr("batch_dims").value_or(0);
  int64_t dataRank = dataType.getRank(), indicesRank = indicesType.getRank();
  if (indicesRank < 1 || batchDims < 0 || batchDims >= std::min(dataRank, indicesRank))
    return imp.fail("batch_dims " + llvm::Twine(batchDims) + " does not fit the ranks");
  int64_t depth = indicesType.getDimSize(indicesRank - 1);
  if (depth < 1 || batchDims + depth > dataRank)
    return imp.fail("the last indices dimension (" + llvm::Twine(depth) +
                    ") indexes past the data's rank");
  for (int64_t d = 0; d < batchDims; ++d)
    if (dataType.getDimSize(d) != indicesType.getDimSize(d))
      return imp.fail("the batch dimensions of data and indices differ");
  SmallVector<int64_t> outShape(indicesType.getShape().drop_back());
  llvm::append_range(outShape, dataType.getShape().drop_front(batchDims + depth));
  int64_t leading = indicesRank - 1; // output dims taken from indices

  OpBuilder &b = imp.builder();
  Value result = buildIndexedGeneric(
      b, imp.loc(), outShape, dataType.getElementType(), {}, {},
      [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange) -> Value {
        SmallVector<Value> in(out.take_front(batchDims));
        SmallVector<Value> where(out.take_front(leading));
        where.push_back(Value());
        for (int64_t j = 0; j < depth; ++j) {
          where.back() = indexConstant(nb, nl, j);
          Value raw = tensor::ExtractOp::create(nb, nl, indices->value, where);
          in.push_back(
              normalizeGatherIndex(nb, nl, raw, dataType.getDimSize(batchDims + j)));
        }
        llvm::append_range(in, out.drop_front(leading));
        return tensor::ExtractOp::create(nb, nl, data->value, in);
      });
  imp.setOutput(0, result, data->onnxType);
  return llvm::Error::success();
}

/// OneHot: output[..., d, ...] (d at `axis`) = values[1] where
/// indices[...] == d (negative indices count from depth), else values[0].
static llvm::Error convertOneHot(NodeImporter &imp) {
  llvm::Expected<OnnxValue> indices = imp.input(0);
  if (!indices)
    return indices.takeError();
  llvm::Expected<ElementsAttr> depthAttr = imp.constantInput(1, "depth");
  if (!depthAttr)
    return depthAttr.takeError();
  llvm::Expected<OnnxValue> values = imp.input(2);
  if (!values)
    return values.takeError();
  std::optional<SmallVector<float>> depthFloat = readFloatElements(*depthAttr);
  std::optional<SmallVector<int64_t>> depthInt = readIntElements(*depthAttr, true);
  int64_t depth = depthInt && depthInt->size() == 1 ? (*depthInt)[0]
                  : depthFloat && depthFloat->size() == 1
                      ? static_cast<int64_t>((*depthFloat)[0])
                      : -1;
  if (depth < 1)
    return imp.fail("depth must be a positive scalar");
  RankedTensorType indicesType = tensorTypeOf(indices->value);
  RankedTensorType valuesType = tensorTypeOf(values->value);
  if (valuesType.getNumElements() != 2)
    return imp.fail("values must hold [off_value, on_value]");
  int64_t outRank = indicesType.getRank() + 1;
  llvm::Expected<int64_t> axis = resolveAxis(imp, imp.intAttr("axis").value_or(-1), outRank);
  if (!axis)
    return axis.takeError();
  SmallVector<int64_t> outShape(indicesType.getShape());
  outShape.insert(outShape.begin() + *axis, depth);
  SmallVector<AffineExpr> indexExprs;
  for (int64_t d = 0; d < outRank; ++d)
    if (d != *axis)
      indexExprs.push_back(getAffineDimExpr(d, imp.context()));
  OpBuilder &b = imp.builder();
  Value flatValues = buildReshape(b, imp.loc(), values->value, {2});
  bool indicesAreFloat = isa<FloatType>(indicesType.getElementType());
  Value result = buildIndexedGeneric(
      b, imp.loc(), outShape, valuesType.getElementType(), {indices->value},
      {AffineMap::get(outRank, 0, indexExprs, imp.context())},
      [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange args) -> Value {
        Value raw = args[0];
        if (indicesAreFloat)
          raw = arith::FPToSIOp::create(nb, nl, nb.getI64Type(), raw);
        Value index = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), raw);
        Value negative = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt, index,
                                               indexConstant(nb, nl, 0));
        index = arith::SelectOp::create(
            nb, nl, negative, arith::AddIOp::create(nb, nl, index, indexConstant(nb, nl, depth)),
            index);
        Value hot = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, index, out[*axis]);
        Value which = arith::SelectOp::create(nb, nl, hot, indexConstant(nb, nl, 1),
                                              indexConstant(nb, nl, 0));
        return tensor::ExtractOp::create(nb, nl, flatValues, ValueRange{which});
      });
  imp.setOutput(0, result, values->onnxType);
  return llvm::Error::success();
}

/// How scattered updates combine with what is already there.
using ScatterCombine = std::function<Value(OpBuilder &, Location, Value acc, Value update)>;

static llvm::Expected<ScatterCombine> scatterCombine(NodeImporter &imp, Type elementType) {
  std::string reduction = imp.stringAttr("reduction").value_or("none");
  bool isFloat = isa<FloatType>(elementType);
  if (reduction == "none")
    return ScatterCombine([](OpBuilder &, Location, Value, Value update) { return update; });
  if (reduction == "add")
    return ScatterCombine([isFloat](OpBuilder &b, Location loc, Value acc, Value u) -> Value {
      return isFloat ? Value(arith::AddFOp::create(b, loc, acc, u))
                     : Value(arith::AddIOp::create(b, loc, acc, u));
    });
  if (reduction == "mul")
    return ScatterCombine([isFloat](OpBuilder &b, Location loc, Value acc, Value u) -> Value {
      return isFloat ? Value(arith::MulFOp::create(b, loc, acc, u))
                     : Value(arith::MulIOp::create(b, loc, acc, u));
    });
  if (reduction == "max")
    return ScatterCombine([isFloat](OpBuilder &b, Location loc, Value acc, Value u) -> Value {
      return isFloat ? Value(arith::MaximumFOp::create(b, loc, acc, u))
                     : Value(arith::MaxSIOp::create(b, loc, acc, u));
    });
  if (reduction == "min")
    return ScatterCombine([isFloat](OpBuilder &b, Location loc, Value acc, Value u) -> Value {
      return isFloat ? Value(arith::MinimumFOp::create(b, loc, acc, u))
                     : Value(arith::MinSIOp::create(b, loc, acc, u));
    });
  return imp.fail("reduction must be none, add, mul, max or min, got '" + reduction + "'");
}

namespace {
struct ScatterOperands {
  OnnxValue data, indices, updates;
};
} // namespace

/// Inputs 0 (data), 1 (indices) and 2 (updates) of a scatter.
static llvm::Expected<ScatterOperands> readScatterOperands(NodeImporter &imp) {
  llvm::Expected<OnnxValue> data = imp.input(0);
  if (!data)
    return data.takeError();
  llvm::Expected<OnnxValue> indices = gatherIndices(imp);
  if (!indices)
    return indices.takeError();
  llvm::Expected<OnnxValue> updates = imp.input(2);
  if (!updates)
    return updates.takeError();
  return ScatterOperands{*data, *indices, *updates};
}

/// A scatter written as a gather: every output element folds, in order, the
/// updates that land on it into its data value. `updateSpace` is the shape
/// the updates are enumerated over; `lands(out, u)` says whether update u
/// lands on output element `out`, `update(out, u)` is its value. Quadratic,
/// but exact, and the fold order is the reference's write order.
static Value buildScatter(OpBuilder &b, Location loc, Value data, ArrayRef<int64_t> updateSpace,
                          const ScatterCombine &combine,
                          llvm::function_ref<Value(OpBuilder &, Location, ValueRange, ValueRange)>
                              lands,
                          llvm::function_ref<Value(OpBuilder &, Location, ValueRange, ValueRange)>
                              update) {
  RankedTensorType type = tensorTypeOf(data);
  int64_t rank = type.getRank(), spaceRank = updateSpace.size();
  MLIRContext *ctx = b.getContext();
  // Loops: the output's dims, then the update space (reductions). The
  // update space dims are read only through linalg.index.
  SmallVector<AffineExpr> outExprs;
  for (int64_t d = 0; d < rank; ++d)
    outExprs.push_back(getAffineDimExpr(d, ctx));
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators.append(spaceRank, utils::IteratorType::reduction);
  // A zero-trip update space must still bound its loops: index a dummy
  // input of the update space's shape.
  Value space = tensor::EmptyOp::create(b, loc, updateSpace, b.getI1Type());
  SmallVector<AffineExpr> spaceExprs;
  for (int64_t d = 0; d < spaceRank; ++d)
    spaceExprs.push_back(getAffineDimExpr(rank + d, ctx));
  SmallVector<AffineMap> maps = {AffineMap::get(rank + spaceRank, 0, spaceExprs, ctx),
                                 AffineMap::get(rank + spaceRank, 0, outExprs, ctx)};
  auto generic = linalg::GenericOp::create(
      b, loc, type, ValueRange{space}, ValueRange{data}, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> out, u;
        for (int64_t d = 0; d < rank; ++d)
          out.push_back(linalg::IndexOp::create(nb, nl, d));
        for (int64_t d = 0; d < spaceRank; ++d)
          u.push_back(linalg::IndexOp::create(nb, nl, rank + d));
        // The update's coordinates are always in range, so it is read
        // unconditionally and selected.
        Value acc = args[1];
        Value combined = combine(nb, nl, acc, update(nb, nl, out, u));
        Value next = arith::SelectOp::create(nb, nl, lands(nb, nl, out, u), combined, acc);
        linalg::YieldOp::create(nb, nl, next);
      });
  return generic.getResult(0);
}

/// ScatterND: updates[u..., rest...] lands on data[indices[u..., :], rest...].
static llvm::Error convertScatterND(NodeImporter &imp) {
  llvm::Expected<ScatterOperands> operands = readScatterOperands(imp);
  if (!operands)
    return operands.takeError();
  const OnnxValue *data = &operands->data, *indices = &operands->indices,
                  *updates = &operands->updates;
  RankedTensorType dataType = tensorTypeOf(data->value);
  RankedTensorType indicesType = tensorTypeOf(indices->value);
  int64_t indicesRank = indicesType.getRank();
  int64_t depth = indicesRank ? indicesType.getDimSize(indicesRank - 1) : 0;
  if (indicesRank < 1 || depth < 1 || depth > dataType.getRank())
    return imp.fail("the last indices dimension must index into the data's rank");
  llvm::Expected<ScatterCombine> combine = scatterCombine(imp, dataType.getElementType());
  if (!combine)
    return combine.takeError();
  // Updates are enumerated over indices.shape[:-1]; the rest of an update
  // follows the output position.
  SmallVector<int64_t> space(indicesType.getShape().drop_back());
  OpBuilder &b = imp.builder();
  Value result = buildScatter(
      b, imp.loc(), data->value, space, *combine,
      [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange u) -> Value {
        Value all = arith::ConstantOp::create(nb, nl, nb.getBoolAttr(true));
        SmallVector<Value> where(u);
        where.push_back(Value());
        for (int64_t j = 0; j < depth; ++j) {
          where.back() = indexConstant(nb, nl, j);
          Value raw = tensor::ExtractOp::create(nb, nl, indices->value, where);
          Value target = normalizeGatherIndex(nb, nl, raw, dataType.getDimSize(j));
          all = arith::AndIOp::create(
              nb, nl, all,
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, target, out[j]));
        }
        return all;
      },
      [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange u) -> Value {
        SmallVector<Value> at(u);
        llvm::append_range(at, out.drop_front(depth));
        return tensor::ExtractOp::create(nb, nl, updates->value, at);
      });
  imp.setOutput(0, result, data->onnxType);
  return llvm::Error::success();
}

/// ScatterElements (and the older Scatter): updates[e] lands on data[e with
/// its `axis` coordinate replaced by indices[e]].
static llvm::Error convertScatterElements(NodeImporter &imp) {
  llvm::Expected<ScatterOperands> operands = readScatterOperands(imp);
  if (!operands)
    return operands.takeError();
  const OnnxValue *data = &operands->data, *indices = &operands->indices,
                  *updates = &operands->updates;
  RankedTensorType dataType = tensorTypeOf(data->value);
  RankedTensorType indicesType = tensorTypeOf(indices->value);
  int64_t rank = dataType.getRank();
  if (indicesType.getRank() != rank || tensorTypeOf(updates->value).getShape() !=
                                           indicesType.getShape())
    return imp.fail("indices and updates must have the data's rank and one shape");
  llvm::Expected<int64_t> axis = resolveAxis(imp, imp.intAttr("axis").value_or(0), rank);
  if (!axis)
    return axis.takeError();
  llvm::Expected<ScatterCombine> combine = scatterCombine(imp, dataType.getElementType());
  if (!combine)
    return combine.takeError();
  OpBuilder &b = imp.builder();
  Value result = buildScatter(
      b, imp.loc(), data->value, indicesType.getShape(), *combine,
      [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange e) -> Value {
        Value raw = tensor::ExtractOp::create(nb, nl, indices->value, e);
        Value target = normalizeGatherIndex(nb, nl, raw, dataType.getDimSize(*axis));
        Value all = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, target, out[*axis]);
        for (int64_t d = 0; d < rank; ++d)
          if (d != *axis)
            all = arith::AndIOp::create(
                nb, nl, all,
                arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, e[d], out[d]));
        return all;
      },
      [&](OpBuilder &nb, Location nl, ValueRange, ValueRange e) -> Value {
        return tensor::ExtractOp::create(nb, nl, updates->value, e);
      });
  imp.setOutput(0, result, data->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Reshaping ops: Squeeze, Unsqueeze, Flatten
//===----------------------------------------------------------------------===//

/// Binds `x` reshaped to `shape` (a constant when `x` is one).
static void setReshapedOutput(NodeImporter &imp, const OnnxValue &x,
                              ArrayRef<int64_t> shape) {
  if (std::optional<ConstantTensor> constant = constantOf(x)) {
    setConstantOutput(imp, 0, constant->reshaped(shape), x.onnxType);
    return;
  }
  imp.setOutput(0, buildReshape(imp.builder(), imp.loc(), x.value, shape),
                x.onnxType);
}

/// Squeeze: drops the listed size-1 axes (attribute before opset 13, input
/// from it), or every size-1 axis when none are given.
static llvm::Error convertSqueeze(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  int64_t rank = shape.size();
  llvm::Expected<std::optional<SmallVector<int64_t>>> axes =
      attrOrInputInts(imp, "axes", 13, 1);
  if (!axes)
    return axes.takeError();
  SmallVector<bool> dropped(rank, false);
  if (*axes) {
    llvm::Expected<SmallVector<int64_t>> dims = resolveAxes(imp, **axes, rank);
    if (!dims)
      return dims.takeError();
    for (int64_t d : *dims) {
      if (shape[d] != 1)
        return imp.fail("cannot squeeze axis " + llvm::Twine(d) + " of size " +
                        llvm::Twine(shape[d]));
      dropped[d] = true;
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      dropped[d] = shape[d] == 1;
  }
  SmallVector<int64_t> outShape;
  for (int64_t d = 0; d < rank; ++d)
    if (!dropped[d])
      outShape.push_back(shape[d]);
  setReshapedOutput(imp, *x, outShape);
  return llvm::Error::success();
}

/// Unsqueeze: inserts size-1 axes at the given output positions (attribute
/// before opset 13, input from it).
static llvm::Error convertUnsqueeze(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  llvm::Expected<std::optional<SmallVector<int64_t>>> axes =
      attrOrInputInts(imp, "axes", 13, 1);
  if (!axes)
    return axes.takeError();
  if (!*axes)
    return imp.fail("needs axes");
  int64_t outRank = shape.size() + (*axes)->size();
  llvm::Expected<SmallVector<int64_t>> dims = resolveAxes(imp, **axes, outRank);
  if (!dims)
    return dims.takeError();
  SmallVector<int64_t> outShape(outRank, 1);
  SmallVector<bool> inserted(outRank, false);
  for (int64_t d : *dims)
    inserted[d] = true;
  const int64_t *next = shape.begin();
  for (int64_t d = 0; d < outRank; ++d)
    if (!inserted[d])
      outShape[d] = *next++;
  setReshapedOutput(imp, *x, outShape);
  return llvm::Error::success();
}

/// Flatten: [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r].
static llvm::Error convertFlatten(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  int64_t rank = shape.size();
  int64_t axis = imp.intAttr("axis").value_or(1);
  if (axis < -rank || axis > rank)
    return imp.fail("axis " + llvm::Twine(axis) + " is out of range for rank " +
                    llvm::Twine(rank));
  if (axis < 0)
    axis += rank;
  setReshapedOutput(
      imp, *x,
      {product(shape.take_front(axis)), product(shape.drop_front(axis))});
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Expand and Tile
//===----------------------------------------------------------------------===//

/// Expand: numpy-broadcasts the input to the (constant) shape.
static llvm::Error convertExpand(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  llvm::Expected<SmallVector<int64_t>> requested =
      requireConstantInts(imp, 1, "the shape input");
  if (!requested)
    return requested.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  std::optional<SmallVector<int64_t>> outShape =
      broadcastShapes({type.getShape(), *requested});
  if (!outShape || llvm::any_of(*requested, [](int64_t d) { return d < 0; }))
    return imp.fail("input shape " + shapeString(type.getShape()) +
                    " does not broadcast to " + shapeString(*requested));
  int64_t offset = outShape->size() - type.getRank();
  if (std::optional<ConstantTensor> constant = foldableData(*x, *outShape)) {
    ConstantTensor result = foldByIndex(
        *constant, *outShape,
        [&](ArrayRef<int64_t> out, SmallVectorImpl<int64_t> &in) {
          for (int64_t d = 0; d < type.getRank(); ++d)
            in.push_back(type.getDimSize(d) == 1 ? 0 : out[offset + d]);
        });
    setConstantOutput(imp, 0, result, x->onnxType);
    return llvm::Error::success();
  }
  OpBuilder &b = imp.builder();
  Value result = x->value;
  if (type.getShape() != ArrayRef<int64_t>(*outShape)) {
    auto [operand, map] = dropBroadcastDims(b, imp.loc(), x->value, *outShape);
    result = buildIndexedGeneric(b, imp.loc(), *outShape, type.getElementType(),
                                 {operand}, {map},
                                 [](OpBuilder &, Location, ValueRange,
                                    ValueRange args) { return args[0]; });
  }
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

/// Tile: a generic broadcasts the input to [r0, d0, r1, d1, ...], which
/// reshapes to [r0 * d0, r1 * d1, ...].
static llvm::Error convertTile(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  llvm::Expected<SmallVector<int64_t>> repeats =
      requireConstantInts(imp, 1, "repeats");
  if (!repeats)
    return repeats.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  int64_t rank = type.getRank();
  if (static_cast<int64_t>(repeats->size()) != rank ||
      llvm::any_of(*repeats, [](int64_t r) { return r < 0; }))
    return imp.fail("repeats must hold " + llvm::Twine(rank) +
                    " non-negative values, got " + shapeString(*repeats));
  SmallVector<int64_t> outShape, interleaved;
  for (int64_t d = 0; d < rank; ++d) {
    outShape.push_back(type.getDimSize(d) * (*repeats)[d]);
    interleaved.push_back((*repeats)[d]);
    interleaved.push_back(type.getDimSize(d));
  }
  if (std::optional<ConstantTensor> constant = foldableData(*x, outShape)) {
    ConstantTensor result =
        foldByIndex(*constant, outShape,
                    [&](ArrayRef<int64_t> out, SmallVectorImpl<int64_t> &in) {
                      for (int64_t d = 0; d < rank; ++d)
                        in.push_back(out[d] % type.getDimSize(d));
                    });
    setConstantOutput(imp, 0, result, x->onnxType);
    return llvm::Error::success();
  }
  OpBuilder &b = imp.builder();
  Value result = x->value;
  if (llvm::any_of(*repeats, [](int64_t r) { return r != 1; })) {
    SmallVector<AffineExpr> dataDims;
    for (int64_t d = 0; d < rank; ++d)
      dataDims.push_back(b.getAffineDimExpr(2 * d + 1));
    AffineMap map = AffineMap::get(2 * rank, 0, dataDims, b.getContext());
    Value tiled = buildIndexedGeneric(b, imp.loc(), interleaved,
                                      type.getElementType(), {x->value}, {map},
                                      [](OpBuilder &, Location, ValueRange,
                                         ValueRange args) { return args[0]; });
    result = buildReshape(b, imp.loc(), tiled, outShape);
  }
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Pad
//===----------------------------------------------------------------------===//

enum class PadMode { Constant, Reflect, Edge, Wrap };

/// The pad value of constant mode as a scalar of `elementType`: the value
/// attribute before opset 11, the optional constant_value input from it (a
/// run-time value is read with tensor.extract), else zero.
static llvm::Expected<Value> padValue(NodeImporter &imp, Type elementType) {
  OpBuilder &b = imp.builder();
  if (imp.opset() < 11) {
    double v = imp.floatAttr("value").value_or(0.0f);
    TypedAttr attr =
        isa<FloatType>(elementType)
            ? TypedAttr(b.getFloatAttr(elementType, v))
            : TypedAttr(b.getIntegerAttr(elementType, static_cast<int64_t>(v)));
    return arith::ConstantOp::create(b, imp.loc(), attr).getResult();
  }
  if (!imp.hasInput(2))
    return arith::ConstantOp::create(b, imp.loc(), b.getZeroAttr(elementType))
        .getResult();
  llvm::Expected<OnnxValue> value = imp.input(2);
  if (!value)
    return value.takeError();
  RankedTensorType type = tensorTypeOf(value->value);
  if (type.getNumElements() != 1 || type.getElementType() != elementType)
    return imp.fail("constant_value must be one element of the data's type");
  return extractOnlyElement(b, imp.loc(), *value);
}

/// The source index along one dim for output index `i` of a reflect, edge
/// or wrap pad of a dim of `size` with `before` elements padded in front.
static Value padSourceIndex(OpBuilder &b, Location loc, PadMode mode, Value i,
                            int64_t size, int64_t before) {
  Value shifted =
      arith::SubIOp::create(b, loc, i, indexConstant(b, loc, before));
  auto positiveMod = [&](Value v, int64_t m) -> Value {
    Value mv = indexConstant(b, loc, m);
    Value r = arith::RemSIOp::create(b, loc, v, mv);
    Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r,
                                      indexConstant(b, loc, 0));
    return arith::SelectOp::create(b, loc, neg,
                                   arith::AddIOp::create(b, loc, r, mv), r);
  };
  switch (mode) {
  case PadMode::Edge: {
    Value low =
        arith::MaxSIOp::create(b, loc, shifted, indexConstant(b, loc, 0));
    return arith::MinSIOp::create(b, loc, low, indexConstant(b, loc, size - 1));
  }
  case PadMode::Wrap:
    return positiveMod(shifted, size);
  case PadMode::Reflect: {
    if (size == 1)
      return indexConstant(b, loc, 0);
    // Reflection repeats with period 2 * (size - 1).
    int64_t period = 2 * (size - 1);
    Value m = positiveMod(shifted, period);
    Value mirrored =
        arith::SubIOp::create(b, loc, indexConstant(b, loc, period), m);
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, m,
                                         indexConstant(b, loc, size));
    return arith::SelectOp::create(b, loc, inside, m, mirrored);
  }
  case PadMode::Constant:
    break;
  }
  return i;
}

/// CenterCropPad: each listed axis is cropped or zero-padded to its target
/// size around the center (the extra element of an odd difference goes at
/// the end), i.e. output[j] = input[j - low] with low = (out - in) / 2
/// rounded toward zero, negative when cropping.
static llvm::Error convertCenterCropPad(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  int64_t rank = type.getRank();
  llvm::Expected<SmallVector<int64_t>> sizes = requireConstantInts(imp, 1, "shape");
  if (!sizes)
    return sizes.takeError();
  SmallVector<int64_t> axes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  if (std::optional<SmallVector<int64_t>> given = imp.intsAttr("axes")) {
    llvm::Expected<SmallVector<int64_t>> resolved = resolveAxes(imp, *given, rank);
    if (!resolved)
      return resolved.takeError();
    axes = *resolved;
  }
  if (sizes->size() != axes.size())
    return imp.fail("shape has " + llvm::Twine(sizes->size()) + " entries for " +
                    llvm::Twine(axes.size()) + " axes");
  SmallVector<int64_t> outShape(type.getShape()), low(rank, 0);
  for (auto [axis, size] : llvm::zip(axes, *sizes)) {
    if (size < 0)
      return imp.fail("shape entry " + llvm::Twine(size) + " is negative");
    int64_t in = type.getDimSize(axis);
    outShape[axis] = size;
    low[axis] = size >= in ? (size - in) / 2 : -((in - size) / 2);
  }
  OpBuilder &b = imp.builder();
  Value result = buildStridedPad(b, imp.loc(), x->value, low, SmallVector<int64_t>(rank, 1),
                                 outShape, b.getZeroAttr(type.getElementType()));
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

/// Pad: pads attribute before opset 11, input (constant) from it, axes from
/// opset 18, wrap mode from 19. Negative pads crop first (extract_slice).
/// Constant mode fills the output and inserts the data; the other modes
/// compute a source index per dim in a generic.
static llvm::Error convertPad(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  int64_t rank = type.getRank();
  std::string modeName = imp.stringAttr("mode").value_or("constant");
  std::optional<PadMode> mode =
      llvm::StringSwitch<std::optional<PadMode>>(modeName)
          .Case("constant", PadMode::Constant)
          .Case("reflect", PadMode::Reflect)
          .Case("edge", PadMode::Edge)
          .Case("wrap", PadMode::Wrap)
          .Default(std::nullopt);
  if (!mode || (*mode == PadMode::Wrap && imp.opset() < 19))
    return imp.fail("mode '" + modeName + "' is not supported at opset " +
                    llvm::Twine(imp.opset()));

  SmallVector<int64_t> pads;
  if (imp.opset() < 11) {
    std::optional<SmallVector<int64_t>> attr = imp.intsAttr("pads");
    if (!attr)
      return imp.fail("needs the pads attribute");
    pads = *attr;
  } else {
    llvm::Expected<SmallVector<int64_t>> input =
        requireConstantInts(imp, 1, "pads");
    if (!input)
      return input.takeError();
    pads = *input;
  }
  SmallVector<int64_t> axes = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  if (imp.opset() >= 18 && imp.hasInput(3)) {
    llvm::Expected<SmallVector<int64_t>> given =
        requireConstantInts(imp, 3, "axes");
    if (!given)
      return given.takeError();
    llvm::Expected<SmallVector<int64_t>> resolved =
        resolveAxes(imp, *given, rank);
    if (!resolved)
      return resolved.takeError();
    axes = *resolved;
  }
  int64_t numAxes = axes.size();
  if (static_cast<int64_t>(pads.size()) != 2 * numAxes)
    return imp.fail("pads has " + llvm::Twine(pads.size()) + " entries for " +
                    llvm::Twine(numAxes) + " axes");
  SmallVector<int64_t> before(rank, 0), after(rank, 0);
  for (auto [i, axis] : llvm::enumerate(axes)) {
    before[axis] = pads[i];
    after[axis] = pads[numAxes + i];
  }

  // Crop for negative pads, then pad by the non-negative rest.
  SmallVector<int64_t> cropOffsets(rank), croppedShape(rank), outShape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    cropOffsets[d] = std::max<int64_t>(-before[d], 0);
    croppedShape[d] =
        type.getDimSize(d) - cropOffsets[d] - std::max<int64_t>(-after[d], 0);
    if (croppedShape[d] < 0)
      return imp.fail("pads crop more than the " +
                      llvm::Twine(type.getDimSize(d)) + " elements of axis " +
                      llvm::Twine(d));
    before[d] = std::max<int64_t>(before[d], 0);
    after[d] = std::max<int64_t>(after[d], 0);
    outShape[d] = croppedShape[d] + before[d] + after[d];
    if (*mode != PadMode::Constant && croppedShape[d] == 0 && outShape[d] > 0)
      return imp.fail("cannot " + modeName + "-pad the empty axis " +
                      llvm::Twine(d));
  }
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value cropped = buildSlice(b, loc, x->value, cropOffsets, croppedShape,
                             SmallVector<int64_t>(rank, 1));
  Value result = cropped;
  if (*mode == PadMode::Constant) {
    llvm::Expected<Value> value = padValue(imp, type.getElementType());
    if (!value)
      return value.takeError();
    if (croppedShape != outShape) {
      result = buildFilled(b, loc, outShape, *value);
      if (product(croppedShape) > 0)
        result = buildInsert(b, loc, cropped, result, before);
    }
  } else if (croppedShape != outShape) {
    result = buildIndexedGeneric(
        b, loc, outShape, type.getElementType(), {}, {},
        [&](OpBuilder &nb, Location nl, ValueRange out, ValueRange) -> Value {
          SmallVector<Value> in;
          for (auto [d, i] : llvm::enumerate(out))
            in.push_back(before[d] == 0 && after[d] == 0
                             ? i
                             : padSourceIndex(nb, nl, *mode, i, croppedShape[d],
                                              before[d]));
          return tensor::ExtractOp::create(nb, nl, cropped, in);
        });
  }
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Shape computations: Shape, Size, ConstantOfShape, Range
//===----------------------------------------------------------------------===//

/// Shape: the static shape as an int64 constant, sliced by start/end (opset
/// 15) with clamping.
static llvm::Error convertShape(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  int64_t rank = shape.size();
  auto clampAxis = [&](int64_t a) {
    return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank);
  };
  int64_t start = 0, end = rank;
  if (imp.opset() >= 15) {
    start = clampAxis(imp.intAttr("start").value_or(0));
    end = clampAxis(imp.intAttr("end").value_or(rank));
  }
  ArrayRef<int64_t> dims =
      end > start ? shape.slice(start, end - start) : ArrayRef<int64_t>();
  setConstantOutput(
      imp, 0,
      int64Constant(imp.context(), {static_cast<int64_t>(dims.size())}, dims),
      onnx::TensorProto::INT64);
  return llvm::Error::success();
}

/// Size: the element count as an int64 scalar constant.
static llvm::Error convertSize(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  setConstantOutput(imp, 0,
                    int64Constant(imp.context(), {},
                                  {tensorTypeOf(x->value).getNumElements()}),
                    onnx::TensorProto::INT64);
  return llvm::Error::success();
}

/// ConstantOfShape: a splat of the one-element value attribute (default
/// float32 0) in the (constant) shape.
static llvm::Error convertConstantOfShape(NodeImporter &imp) {
  llvm::Expected<SmallVector<int64_t>> shape =
      requireConstantInts(imp, 0, "the shape input");
  if (!shape)
    return shape.takeError();
  if (llvm::any_of(*shape, [](int64_t d) { return d < 0; }))
    return imp.fail("shape " + shapeString(*shape) +
                    " has a negative dimension");
  OpBuilder &b = imp.builder();
  Attribute element = b.getF32FloatAttr(0.0f);
  int32_t onnxType = onnx::TensorProto::FLOAT;
  if (const onnx::AttributeProto *value = imp.attr("value")) {
    llvm::Expected<ElementsAttr> attr =
        importTensor(value->t(), imp.context(), imp.baseDir());
    if (!attr)
      return imp.fail(llvm::toString(attr.takeError()));
    auto dense = dyn_cast<DenseElementsAttr>(*attr);
    if (!dense || dense.getNumElements() != 1)
      return imp.fail("value must hold exactly one element");
    element = *dense.value_begin<Attribute>();
    onnxType = value->t().data_type();
  }
  auto type = RankedTensorType::get(*shape, cast<TypedAttr>(element).getType());
  Value result = arith::ConstantOp::create(
      b, imp.loc(), DenseElementsAttr::get(type, ArrayRef<Attribute>{element}));
  imp.setOutput(0, result, onnxType);
  return llvm::Error::success();
}

/// Range: folded at import, since its length depends on the values of all
/// three inputs.
static llvm::Error convertRange(NodeImporter &imp) {
  static const char *const names[] = {"start", "limit", "delta"};
  SmallVector<ConstantTensor, 3> args;
  for (int i = 0; i < 3; ++i) {
    llvm::Expected<ConstantTensor> c = requireConstantInput(imp, i, names[i]);
    if (!c)
      return c.takeError();
    if (c->numElements() != 1)
      return imp.fail(llvm::Twine(names[i]) + " must be a scalar");
    args.push_back(std::move(*c));
  }
  llvm::Expected<OnnxValue> start = imp.input(0);
  if (!start)
    return start.takeError();
  ConstantTensor result;
  int64_t count = 0;
  if (args[0].isFloat()) {
    double first = args[0].floats[0], limit = args[1].floats[0],
           delta = args[2].floats[0];
    if (delta == 0)
      return imp.fail("delta must not be 0");
    count = std::max<int64_t>(
        static_cast<int64_t>(std::ceil((limit - first) / delta)), 0);
    for (int64_t i = 0; i < count; ++i)
      result.floats.push_back(first + i * delta);
  } else {
    int64_t first = args[0].ints[0], limit = args[1].ints[0],
            delta = args[2].ints[0];
    if (delta == 0)
      return imp.fail("delta must not be 0");
    int64_t span = limit - first;
    count = span / delta;
    if (span % delta != 0 && (span > 0) == (delta > 0))
      ++count;
    count = std::max<int64_t>(count, 0);
    for (int64_t i = 0; i < count; ++i)
      result.ints.push_back(first + i * delta);
  }
  result.type = RankedTensorType::get({count}, args[0].type.getElementType());
  setConstantOutput(imp, 0, result, start->onnxType);
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Trilu
//===----------------------------------------------------------------------===//

/// Trilu: keeps the elements with j - i >= k (upper) or j - i <= k (lower)
/// of the last two dims and zeroes the rest; k may be a run-time scalar.
static llvm::Error convertTrilu(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  int64_t rank = type.getRank();
  if (rank < 2)
    return imp.fail("input must have rank >= 2, got " + llvm::Twine(rank));
  bool upper = imp.intAttr("upper").value_or(1) != 0;
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value k;
  if (!imp.hasInput(1)) {
    k = indexConstant(b, loc, 0);
  } else {
    llvm::Expected<OnnxValue> kInput = imp.input(1);
    if (!kInput)
      return kInput.takeError();
    RankedTensorType kType = tensorTypeOf(kInput->value);
    if (kType.getNumElements() != 1 || !kType.getElementType().isInteger(64))
      return imp.fail("k must be an int64 scalar");
    k = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                   extractOnlyElement(b, loc, *kInput));
  }
  Value zero =
      arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
  Value result = buildIndexedGeneric(
      b, loc, type.getShape(), type.getElementType(), {x->value},
      {b.getMultiDimIdentityMap(rank)},
      [&](OpBuilder &nb, Location nl, ValueRange out,
          ValueRange args) -> Value {
        Value diagonal =
            arith::SubIOp::create(nb, nl, out[rank - 1], out[rank - 2]);
        Value keep = arith::CmpIOp::create(nb, nl,
                                           upper ? arith::CmpIPredicate::sge
                                                 : arith::CmpIPredicate::sle,
                                           diagonal, k);
        return arith::SelectOp::create(nb, nl, keep, args[0], zero);
      });
  imp.setOutput(0, result, x->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerTensorConverters(
    ConverterRegistry &registry) {
  registry["::Concat"] = convertConcat;
  registry["::Split"] = convertSplit;
  registry["::Slice"] = convertSlice;
  registry["::Gather"] = convertGather;
  registry["::GatherElements"] = convertGatherElements;
  registry["::GatherND"] = convertGatherND;
  registry["::OneHot"] = convertOneHot;
  registry["::ScatterND"] = convertScatterND;
  registry["::ScatterElements"] = convertScatterElements;
  registry["::Scatter"] = convertScatterElements;
  registry["::Squeeze"] = convertSqueeze;
  registry["::Unsqueeze"] = convertUnsqueeze;
  registry["::Flatten"] = convertFlatten;
  registry["::Expand"] = convertExpand;
  registry["::Tile"] = convertTile;
  registry["::Pad"] = convertPad;
  registry["::CenterCropPad"] = convertCenterCropPad;
  registry["::Shape"] = convertShape;
  registry["::Size"] = convertSize;
  registry["::ConstantOfShape"] = convertConstantOfShape;
  registry["::Range"] = convertRange;
  registry["::Trilu"] = convertTrilu;
}
