//===- ConvolutionOps.cpp - ONNX Conv, ConvInteger and ConvTranspose ------===//
//
// Every convolution becomes one linalg.generic whose innermost loop runs
// over all output positions of an image at once, so that it is long and
// contiguous whatever the image size (short inner loops get fully unrolled
// by LLVM, which then vectorizes an outer loop with gathers):
//
//  - the input is padded (ConvTranspose: spread out with its stride) and,
//    for strided dims, split into `stride` phases so that every phase is
//    read with unit stride;
//  - the spatial dims of each phase are flattened, and the output is
//    computed "wide": out_wide[q] = sum input[q + tap offset] * w over the
//    flattened rows, including the few columns per row that read past the
//    row's end, which are dropped afterwards;
//  - loops are (n, g, m, c, phase..., tap..., q): batch, group, output and
//    input channel in the group, phases and taps of the kernel, and the
//    wide output position. The bias initializes the accumulator.
//
// ConvTranspose is the stride-1 convolution of its spread-out input with
// the flipped kernel; ConvInteger is Conv in int32 after subtracting the
// zero points.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/LayerAttrs.h"
#include "QuantBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::nibble::onnx_import;

namespace {
/// One spatial dim of a convolution: output position o reads padded
/// positions o * stride + k * dilation, and input element j sits at padded
/// position low + j * spread (ConvTranspose spreads its input out with its
/// stride; a negative `low` crops).
struct ConvDim {
  int64_t in, out, kernel, dilation, stride, low, spread;
  /// Tap k applies kernel element K - 1 - k (ConvTranspose).
  bool flip;

  int64_t span() const { return (kernel - 1) * dilation + 1; }
  /// A strided dim is read in `stride` phases (padded position
  /// t * stride + phase), each with unit stride.
  int64_t phases() const { return stride; }
  /// Taps per phase, and their distance in phase positions.
  int64_t taps() const {
    return stride == 1 ? kernel : llvm::divideCeil(span(), stride);
  }
  int64_t tapStep() const { return stride == 1 ? dilation : 1; }
  /// The phase positions one row of outputs reads.
  int64_t rowLength() const { return out + (taps() - 1) * tapStep(); }
  /// The kernel element that tap j of `phase` applies, or -1 for none
  /// (phases of a strided dim may have fewer taps than others).
  int64_t kernelIndex(int64_t phase, int64_t j) const {
    int64_t k = j;
    if (stride != 1) {
      int64_t position = j * stride + phase;
      if (position % dilation != 0 || position / dilation >= kernel)
        return -1;
      k = position / dilation;
    }
    return flip ? kernel - 1 - k : k;
  }
};
} // namespace

/// The distance between consecutive positions of spatial dim i in the
/// flattened phases and the wide output: the row lengths of later dims.
static int64_t rowStride(ArrayRef<ConvDim> dims, size_t i) {
  int64_t stride = 1;
  for (const ConvDim &dim : dims.drop_front(i + 1))
    stride *= dim.rowLength();
  return stride;
}

/// The number of wide outputs: out_0 rows of rowStride(0) positions.
static int64_t wideSize(ArrayRef<ConvDim> dims) {
  return dims[0].out * rowStride(dims, 0);
}

/// The rows of dim 0 each phase holds: enough for the last wide output's
/// last tap.
static int64_t phaseRows(ArrayRef<ConvDim> dims) {
  int64_t needed = wideSize(dims);
  for (size_t i = 0; i < dims.size(); ++i)
    needed += (dims[i].taps() - 1) * dims[i].tapStep() * rowStride(dims, i);
  return llvm::divideCeil(needed, rowStride(dims, 0));
}

/// The input [N, C, in...] padded, split into phases and flattened:
/// [N, G, Cg, phases..., L], phase position t of dim i holding padded
/// position t * stride + phase.
static Value buildPhasedInput(OpBuilder &b, Location loc, Value x,
                              int64_t groups, ArrayRef<ConvDim> dims) {
  RankedTensorType type = tensorTypeOf(x);
  SmallVector<int64_t> low, spread, paddedSize;
  SmallVector<int64_t> split{type.getDimSize(0), groups,
                             type.getDimSize(1) / groups};
  SmallVector<int64_t> perm{0, 1, 2}, phased(split);
  for (auto [i, dim] : llvm::enumerate(dims)) {
    int64_t rows = i == 0 ? phaseRows(dims) : dim.rowLength();
    low.push_back(dim.low);
    spread.push_back(dim.spread);
    paddedSize.push_back(rows * dim.stride);
    split.append({rows, dim.stride});
    perm.push_back(4 + 2 * i);
    phased.push_back(dim.stride);
  }
  for (size_t i = 0; i < dims.size(); ++i)
    perm.push_back(3 + 2 * i);
  phased.push_back(phaseRows(dims) * rowStride(dims, 0));
  Value padded = buildStridedPad(b, loc, x, low, spread, paddedSize,
                                 b.getZeroAttr(type.getElementType()));
  // [N, G, Cg, rows_0, stride_0, rows_1, stride_1, ...], phases moved in
  // front of the rows when there are any.
  Value result = buildReshape(b, loc, padded, split);
  if (llvm::any_of(dims, [](const ConvDim &dim) { return dim.stride != 1; }))
    result = buildTranspose(b, loc, result, perm);
  return buildReshape(b, loc, result, phased);
}

/// buildPhasedWeight of a constant f32 filter `values` of `type`, computed
/// here: element (g, m, c, p..., t...) is the filter's
/// (g * Mg + m, c, k...) (Conv) or (g * Cg + c, m, k...) (ConvTranspose),
/// k_i = kernelIndex(p_i, t_i), and 0 where a tap has no kernel index.
static Value buildPhasedConstant(OpBuilder &b, Location loc, ArrayRef<float> values,
                                 RankedTensorType type, ArrayRef<int64_t> shape,
                                 int64_t inPerGroup, int64_t outPerGroup,
                                 bool inputChannelsFirst, ArrayRef<ConvDim> dims) {
  size_t rank = dims.size();
  SmallVector<int64_t> strides(type.getRank(), 1);
  for (int64_t d = type.getRank() - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * type.getDimSize(d + 1);
  int64_t total = 1;
  for (int64_t size : shape)
    total *= size;
  SmallVector<float> phased(total, 0.0f);
  SmallVector<int64_t> index(shape.size(), 0);
  for (int64_t linear = 0; linear < total; ++linear) {
    int64_t g = index[0], m = index[1], c = index[2];
    int64_t offset = inputChannelsFirst
                         ? (g * inPerGroup + c) * strides[0] + m * strides[1]
                         : (g * outPerGroup + m) * strides[0] + c * strides[1];
    bool present = true;
    for (size_t i = 0; i < rank && present; ++i) {
      int64_t k = dims[i].kernelIndex(index[3 + i], index[3 + rank + i]);
      present = k >= 0;
      offset += k * strides[2 + i];
    }
    if (present)
      phased[linear] = values[offset];
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
  return arith::ConstantOp::create(
      b, loc,
      mlir::nibble::makeFloatConstant(RankedTensorType::get(shape, type.getElementType()),
                                      phased, "filter"));
}

/// The weight as [G, Mg, Cg, phases..., taps...], from [G * Mg, Cg, K...]
/// (Conv) or [G * Cg, Mg, K...] (ConvTranspose, `inputChannelsFirst`); taps
/// a phase lacks are zero.
static Value buildPhasedWeight(OpBuilder &b, Location loc, Value weight,
                               int64_t groups, bool inputChannelsFirst,
                               ArrayRef<ConvDim> dims) {
  RankedTensorType type = tensorTypeOf(weight);
  int64_t inPerGroup = inputChannelsFirst ? type.getDimSize(0) / groups
                                          : type.getDimSize(1);
  int64_t outPerGroup = inputChannelsFirst ? type.getDimSize(1)
                                           : type.getDimSize(0) / groups;
  SmallVector<int64_t> shape{groups, outPerGroup, inPerGroup};
  for (const ConvDim &dim : dims)
    shape.push_back(dim.phases());
  for (const ConvDim &dim : dims)
    shape.push_back(dim.taps());
  bool asIs = !inputChannelsFirst && llvm::all_of(dims, [](const ConvDim &d) {
    return d.stride == 1 && !d.flip;
  });
  if (asIs)
    return buildReshape(b, loc, weight, shape);
  // A constant filter is phased here, so it stays a constant the quantizer
  // can see (the generic below would hide it).
  // (16-bit values round-trip through float exactly.)
  std::optional<SmallVector<float>> values;
  if (isa<Float32Type, Float16Type, BFloat16Type>(type.getElementType()))
    values = mlir::nibble::readFloatElements(mlir::nibble::getConstantElements(weight));
  if (values)
    return buildPhasedConstant(b, loc, *values, type, shape, inPerGroup, outPerGroup,
                               inputChannelsFirst, dims);

  // One [phases, taps] table of kernel indices per dim.
  unsigned rank = dims.size(), numLoops = shape.size();
  SmallVector<Value> tables;
  SmallVector<AffineMap> maps;
  bool anyMissing = false;
  for (auto [i, dim] : llvm::enumerate(dims)) {
    SmallVector<int64_t> table;
    for (int64_t phase = 0; phase < dim.phases(); ++phase)
      for (int64_t j = 0; j < dim.taps(); ++j)
        table.push_back(dim.kernelIndex(phase, j));
    anyMissing |= llvm::is_contained(table, -1);
    auto tableType = RankedTensorType::get({dim.phases(), dim.taps()}, b.getI64Type());
    tables.push_back(arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(tableType, ArrayRef<int64_t>(table))));
    maps.push_back(AffineMap::get(
        numLoops, 0, {b.getAffineDimExpr(3 + i), b.getAffineDimExpr(3 + rank + i)},
        b.getContext()));
  }
  maps.push_back(b.getMultiDimIdentityMap(numLoops));
  Value empty = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  auto generic = linalg::GenericOp::create(
      b, loc, empty.getType(), tables, ValueRange{empty}, maps,
      SmallVector<utils::IteratorType>(numLoops, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        auto index = [&](unsigned d) -> Value { return linalg::IndexOp::create(nb, nl, d); };
        auto grouped = [&](Value g, int64_t perGroup, Value within) -> Value {
          Value base = perGroup == 1
                           ? g
                           : arith::MulIOp::create(
                                 nb, nl, g, arith::ConstantIndexOp::create(nb, nl, perGroup))
                                 .getResult();
          return arith::AddIOp::create(nb, nl, base, within);
        };
        // Conv: (g * Mg + m, c, k...); ConvTranspose: (g * Cg + c, m, k...).
        SmallVector<Value> indices =
            inputChannelsFirst
                ? SmallVector<Value>{grouped(index(0), inPerGroup, index(2)), index(1)}
                : SmallVector<Value>{grouped(index(0), outPerGroup, index(1)), index(2)};
        Value zero = anyMissing ? arith::ConstantIndexOp::create(nb, nl, 0) : Value();
        Value valid;
        for (unsigned i = 0; i < rank; ++i) {
          Value k = arith::IndexCastOp::create(nb, nl, nb.getIndexType(), args[i]);
          if (anyMissing) {
            Value present = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::sge, k, zero);
            valid = valid ? arith::AndIOp::create(nb, nl, valid, present) : present;
            k = arith::MaxSIOp::create(nb, nl, k, zero);
          }
          indices.push_back(k);
        }
        Value element = tensor::ExtractOp::create(nb, nl, weight, indices);
        if (valid)
          element = arith::SelectOp::create(
              nb, nl, valid, element,
              arith::ConstantOp::create(nb, nl, nb.getZeroAttr(type.getElementType())));
        linalg::YieldOp::create(nb, nl, element);
      });
  return generic.getResult(0);
}

/// out_wide[n, g, m, q] = init + sum over c, phases p and taps j of
///   phased[n, g, c, p..., q + sum_i j_i * tapStep_i * rowStride_i]
///   * weight[g, m, c, p..., j...].
static Value buildWideConv(OpBuilder &b, Location loc, Value phased,
                           Value weight, Value init, ArrayRef<ConvDim> dims) {
  MLIRContext *ctx = b.getContext();
  unsigned rank = dims.size();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  AffineExpr n = d(0), g = d(1), m = d(2), c = d(3), q = d(4 + 2 * rank);
  unsigned numLoops = 5 + 2 * rank;
  SmallVector<AffineExpr> inputExprs{n, g, c}, weightExprs{g, m, c};
  AffineExpr position = q;
  for (unsigned i = 0; i < rank; ++i) {
    inputExprs.push_back(d(4 + i));
    weightExprs.push_back(d(4 + i));
    position = position + d(4 + rank + i) * (dims[i].tapStep() * rowStride(dims, i));
  }
  inputExprs.push_back(position);
  for (unsigned i = 0; i < rank; ++i)
    weightExprs.push_back(d(4 + rank + i));
  SmallVector<AffineMap> maps{AffineMap::get(numLoops, 0, inputExprs, ctx),
                              AffineMap::get(numLoops, 0, weightExprs, ctx),
                              AffineMap::get(numLoops, 0, {n, g, m, q}, ctx)};
  SmallVector<utils::IteratorType> iterators(numLoops, utils::IteratorType::reduction);
  for (unsigned i : {0u, 1u, 2u, numLoops - 1})
    iterators[i] = utils::IteratorType::parallel;
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{phased, weight}, ValueRange{init}, maps,
      iterators, [](OpBuilder &nb, Location nl, ValueRange args) {
        Value sum;
        if (isa<FloatType>(args[0].getType()))
          sum = arith::AddFOp::create(
              nb, nl, args[2], arith::MulFOp::create(nb, nl, args[0], args[1]));
        else
          sum = arith::AddIOp::create(
              nb, nl, args[2], arith::MulIOp::create(nb, nl, args[0], args[1]));
        linalg::YieldOp::create(nb, nl, sum);
      });
  return generic.getResult(0);
}

/// The [N, G, Mg, out...] accumulator: the bias (input 2, shape [M]) of
/// each output channel if `withBias` and the node has one, else zeros.
static llvm::Expected<Value> buildBiasInit(NodeImporter &imp,
                                           ArrayRef<int64_t> outShape,
                                           Type elementType, int biasInput) {
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  if (biasInput < 0 || !imp.hasInput(biasInput))
    return buildZeroFilled(b, loc, outShape, elementType);
  llvm::Expected<OnnxValue> bias = imp.input(biasInput);
  if (!bias)
    return bias.takeError();
  int64_t groups = outShape[1], perGroup = outShape[2];
  RankedTensorType biasType = tensorTypeOf(bias->value);
  if (biasType.getRank() != 1 || biasType.getDimSize(0) != groups * perGroup ||
      biasType.getElementType() != elementType)
    return imp.fail("the bias B must be a 1-D tensor of " +
                    llvm::Twine(groups * perGroup) +
                    " elements of the input's type");
  Value bias2D = buildReshape(b, loc, bias->value, {groups, perGroup});
  unsigned rank = outShape.size();
  Value empty = tensor::EmptyOp::create(b, loc, outShape, elementType);
  SmallVector<AffineMap> maps{
      AffineMap::get(rank, 0, {b.getAffineDimExpr(1), b.getAffineDimExpr(2)},
                     b.getContext()),
      b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, empty.getType(), ValueRange{bias2D}, ValueRange{empty},
             maps, iterators,
             [](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, args[0]);
             })
      .getResult(0);
}

namespace {
/// The operands of Conv and ConvTranspose after the common checks.
struct ConvOperands {
  OnnxValue x;
  OnnxValue weight;
  int64_t groups;
  /// The spatial dims of the kernel.
  SmallVector<int64_t> kernel;
};
} // namespace

/// Reads X, W and `group`, and checks that they are float tensors of the
/// same type (int8 or uint8 tensors if `integer`) and rank (>= 3) and that
/// the channels divide into the groups. `weightInputDim` is the weight dim
/// holding input channels (Conv: 1, ConvTranspose: 0).
static llvm::Expected<ConvOperands> readConvOperands(NodeImporter &imp,
                                                     unsigned weightInputDim,
                                                     bool integer = false,
                                                     int weightIndex = 1) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  llvm::Expected<OnnxValue> w = imp.input(weightIndex);
  if (!w)
    return w.takeError();
  ConvOperands result{*x, *w, imp.intAttr("group").value_or(1), {}};
  RankedTensorType xType = tensorTypeOf(result.x.value);
  RankedTensorType wType = tensorTypeOf(result.weight.value);
  auto isByte = [](int32_t t) {
    return t == onnx::TensorProto::INT8 || t == onnx::TensorProto::UINT8;
  };
  bool typesFit =
      integer ? isByte(result.x.onnxType) && isByte(result.weight.onnxType)
              : isa<FloatType>(xType.getElementType()) &&
                    xType.getElementType() == wType.getElementType();
  if (!typesFit)
    return imp.fail(llvm::Twine("expects ") +
                    (integer ? "int8 or uint8 X and W" : "float X and W of the same type") +
                    " (got " + onnxTypeName(result.x.onnxType) + " and " +
                    onnxTypeName(result.weight.onnxType) + ")");
  if (xType.getRank() < 3 || wType.getRank() != xType.getRank())
    return imp.fail("X and W must have the same rank >= 3 (got " +
                    llvm::Twine(xType.getRank()) + " and " +
                    llvm::Twine(wType.getRank()) + ")");
  int64_t channels = xType.getDimSize(1);
  if (result.groups <= 0 || channels % result.groups != 0)
    return imp.fail("group " + llvm::Twine(result.groups) +
                    " does not divide the " + llvm::Twine(channels) +
                    " input channels");
  int64_t weightChannels = wType.getDimSize(weightInputDim);
  int64_t expected = weightInputDim == 0 ? channels : channels / result.groups;
  if (weightChannels != expected)
    return imp.fail("W has " + llvm::Twine(weightChannels) +
                    " input channels in dim " + llvm::Twine(weightInputDim) +
                    ", expected " + llvm::Twine(expected));
  result.kernel.assign(wType.getShape().begin() + 2, wType.getShape().end());
  if (std::optional<SmallVector<int64_t>> kernelShape =
          imp.intsAttr("kernel_shape");
      kernelShape && ArrayRef<int64_t>(*kernelShape) != ArrayRef(result.kernel))
    return imp.fail("kernel_shape does not match the spatial dims of W");
  return result;
}

/// [N, G, Mg, out...] viewed as [N, G * Mg, out...].
static Value mergeChannels(OpBuilder &b, Location loc, Value v) {
  SmallVector<int64_t> shape(tensorTypeOf(v).getShape());
  shape[1] *= shape[2];
  shape.erase(shape.begin() + 2);
  return buildReshape(b, loc, v, shape);
}

/// The convolution of `x` [N, C, in...] with `weight` laid out as
/// buildPhasedWeight says, as [N, M, out...]; starts from the bias (node
/// input `biasInput`, none if negative).
static llvm::Expected<Value> buildGroupedConv(NodeImporter &imp, Value x, Value weight,
                                              bool inputChannelsFirst, int64_t groups,
                                              ArrayRef<ConvDim> dims, int biasInput) {
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  RankedTensorType xType = tensorTypeOf(x);
  Type elementType = xType.getElementType();
  Value phasedWeight =
      buildPhasedWeight(b, loc, weight, groups, inputChannelsFirst, dims);
  int64_t outPerGroup = tensorTypeOf(phasedWeight).getDimSize(1);
  SmallVector<int64_t> wideShape{xType.getDimSize(0), groups, outPerGroup,
                                 wideSize(dims)};
  llvm::Expected<Value> init = buildBiasInit(imp, wideShape, elementType, biasInput);
  if (!init)
    return init.takeError();
  Value wide = buildWideConv(b, loc, buildPhasedInput(b, loc, x, groups, dims),
                             phasedWeight, *init, dims);
  // A float convolution by a constant filter is a weight layer the quantizer
  // may shrink (one scale per output channel: the filter's first two dims).
  if (isa<FloatType>(elementType))
    mlir::nibble::setLayerAttrs(wide.getDefiningOp(), imp.nodeName(), imp.node().op_type());
  // Drop the columns past each row's outputs.
  SmallVector<int64_t> rowsShape(wideShape.begin(), wideShape.end() - 1);
  SmallVector<int64_t> outSize, noOffset(dims.size(), 0), unitStrides(dims.size(), 1);
  for (auto [i, dim] : llvm::enumerate(dims)) {
    rowsShape.push_back(i == 0 ? dim.out : dim.rowLength());
    outSize.push_back(dim.out);
  }
  Value result = buildStridedPad(b, loc, buildReshape(b, loc, wide, rowsShape),
                                 noOffset, unitStrides, outSize,
                                 b.getZeroAttr(elementType));
  return mergeChannels(b, loc, result);
}

/// Conv, ConvInteger and QLinearConv (once zero points are subtracted):
/// padding and output size from the attributes; starts from the bias (node
/// input `biasInput`, none if negative).
static llvm::Expected<Value> buildConv(NodeImporter &imp, const ConvOperands &operands,
                                       int biasInput) {
  RankedTensorType xType = tensorTypeOf(operands.x.value);
  int64_t outChannels = tensorTypeOf(operands.weight.value).getDimSize(0);
  if (outChannels % operands.groups != 0)
    return imp.fail("group " + llvm::Twine(operands.groups) +
                    " does not divide the " + llvm::Twine(outChannels) +
                    " output channels");
  llvm::Expected<SlidingWindow> window = readSlidingWindow(imp, operands.kernel);
  if (!window)
    return window.takeError();
  ArrayRef<int64_t> inSize = xType.getShape().drop_front(2);
  if (llvm::Error e = resolveSlidingWindow(imp, *window, inSize, /*ceilMode=*/false))
    return e;
  SmallVector<ConvDim> dims;
  for (size_t i = 0; i < inSize.size(); ++i)
    dims.push_back(ConvDim{inSize[i], window->outSize[i], window->kernel[i],
                           window->dilations[i], window->strides[i],
                           window->padBegin[i], /*spread=*/1, /*flip=*/false});
  return buildGroupedConv(imp, operands.x.value, operands.weight.value,
                          /*inputChannelsFirst=*/false, operands.groups, dims,
                          biasInput);
}

/// Binds output 0 to `result` or passes its error on.
static llvm::Error setResult(NodeImporter &imp, llvm::Expected<Value> result,
                             int32_t onnxType) {
  if (!result)
    return result.takeError();
  imp.setOutput(0, *result, onnxType);
  return llvm::Error::success();
}

static llvm::Error convertConv(NodeImporter &imp) {
  llvm::Expected<ConvOperands> operands = readConvOperands(imp, 1);
  if (!operands)
    return operands.takeError();
  return setResult(imp, buildConv(imp, *operands, /*biasInput=*/2), operands->x.onnxType);
}

/// `v` - zero point (input `zpIndex`, if given) widened to i32. The zero
/// point is a scalar, or with `channels` > 0 may hold one value per index
/// of dim 0 (ConvInteger's per-output-channel w_zero_point).
static llvm::Expected<Value> subtractZeroPoint(NodeImporter &imp, OnnxValue v,
                                               int zpIndex, int64_t channels) {
  OpBuilder &b = imp.builder();
  SmallVector<Value> operands{v.value};
  SmallVector<bool> isUnsigned{isUnsignedOnnxType(v.onnxType)};
  if (imp.hasInput(zpIndex)) {
    llvm::Expected<OnnxValue> zp = imp.input(zpIndex);
    if (!zp)
      return zp.takeError();
    int64_t count = tensorTypeOf(zp->value).getNumElements();
    if (zp->onnxType != v.onnxType || (count != 1 && count != channels))
      return imp.fail("zero point " + llvm::Twine(zpIndex) + " must be a " +
                      onnxTypeName(v.onnxType) + " scalar" +
                      (channels > 0 ? " or one per output channel" : ""));
    SmallVector<int64_t> broadcastShape(tensorTypeOf(v.value).getRank(), 1);
    broadcastShape[0] = count;
    operands.push_back(buildReshape(b, imp.loc(), zp->value, broadcastShape));
    isUnsigned.push_back(isUnsignedOnnxType(zp->onnxType));
  }
  return buildElementwise(
      b, imp.loc(), operands, b.getI32Type(),
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        SmallVector<Value> wide;
        for (auto [arg, isUnsignedArg] : llvm::zip(args, isUnsigned))
          wide.push_back(isUnsignedArg
                             ? arith::ExtUIOp::create(nb, nl, nb.getI32Type(), arg).getResult()
                             : arith::ExtSIOp::create(nb, nl, nb.getI32Type(), arg).getResult());
        return wide.size() == 1 ? wide[0]
                                : arith::SubIOp::create(nb, nl, wide[0], wide[1]).getResult();
      });
}

/// X and W of ConvInteger / QLinearConv (W at input `weightIndex`) with
/// their zero points (inputs `xZpIndex`, `wZpIndex`) subtracted, in int32.
static llvm::Expected<ConvOperands>
readIntegerConvOperands(NodeImporter &imp, int weightIndex, int xZpIndex, int wZpIndex) {
  llvm::Expected<ConvOperands> operands =
      readConvOperands(imp, 1, /*integer=*/true, weightIndex);
  if (!operands)
    return operands.takeError();
  int64_t outChannels = tensorTypeOf(operands->weight.value).getDimSize(0);
  llvm::Expected<Value> x = subtractZeroPoint(imp, operands->x, xZpIndex, 0);
  if (!x)
    return x.takeError();
  llvm::Expected<Value> w = subtractZeroPoint(imp, operands->weight, wZpIndex, outChannels);
  if (!w)
    return w.takeError();
  operands->x.value = *x;
  operands->weight.value = *w;
  return operands;
}

/// ConvInteger: (X - x_zero_point) conv (W - w_zero_point), exact in int32.
static llvm::Error convertConvInteger(NodeImporter &imp) {
  llvm::Expected<ConvOperands> operands = readIntegerConvOperands(imp, 1, 2, 3);
  if (!operands)
    return operands.takeError();
  return setResult(imp, buildConv(imp, *operands, /*biasInput=*/-1),
                   onnx::TensorProto::INT32);
}

/// A QLinearConv scale: rank 0, or (w_scale per output channel) shaped to
/// broadcast along dim 1 of a rank-`rank` result.
static llvm::Expected<Value> readConvScale(NodeImporter &imp, int index, int64_t channels,
                                           int64_t rank) {
  llvm::Expected<OnnxValue> scale = imp.input(index);
  if (!scale)
    return scale.takeError();
  int64_t count = tensorTypeOf(scale->value).getNumElements();
  if (count == 1)
    return buildReshape(imp.builder(), imp.loc(), scale->value, {});
  if (channels > 0 && count == channels) {
    SmallVector<int64_t> shape(rank, 1);
    shape[1] = channels;
    return buildReshape(imp.builder(), imp.loc(), scale->value, shape);
  }
  return imp.fail("scale input " + llvm::Twine(index) + " must be a scalar" +
                  (channels > 0 ? " or one per output channel" : ""));
}

/// QLinearConv: the exact ConvInteger result (plus the int32 bias) scaled by
/// x_scale * w_scale / y_scale and requantized, as the ONNX reference does.
static llvm::Error convertQLinearConv(NodeImporter &imp) {
  llvm::Expected<ConvOperands> operands = readIntegerConvOperands(imp, 3, 2, 5);
  if (!operands)
    return operands.takeError();
  int64_t outChannels = tensorTypeOf(operands->weight.value).getDimSize(0);
  llvm::Expected<Value> acc = buildConv(imp, *operands, /*biasInput=*/8);
  if (!acc)
    return acc.takeError();
  int64_t rank = tensorTypeOf(*acc).getRank();
  llvm::Expected<Value> xScale = readConvScale(imp, 1, 0, rank);
  llvm::Expected<Value> wScale = readConvScale(imp, 4, outChannels, rank);
  llvm::Expected<Value> yScale = readConvScale(imp, 6, 0, rank);
  for (llvm::Expected<Value> *v : {&xScale, &wScale, &yScale})
    if (!*v)
      return v->takeError();
  Value yZeroPoint;
  int32_t outType = operands->x.onnxType;
  if (imp.hasInput(7)) {
    OnnxValue zp = cantFail(imp.input(7));
    yZeroPoint = buildReshape(imp.builder(), imp.loc(), zp.value, {});
    outType = zp.onnxType;
  }
  if (outType != onnx::TensorProto::INT8 && outType != onnx::TensorProto::UINT8)
    return imp.fail("y_zero_point must be int8 or uint8");
  Value scaled = buildRescaledAccumulator(imp, *acc, *xScale, *wScale, *yScale);
  imp.setOutput(0, buildRequantize(imp, scaled, yZeroPoint, outType), outType);
  return llvm::Error::success();
}

static int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

static llvm::Error convertConvTranspose(NodeImporter &imp) {
  llvm::Expected<ConvOperands> operands = readConvOperands(imp, 0);
  if (!operands)
    return operands.takeError();
  Value x = operands->x.value;
  RankedTensorType xType = tensorTypeOf(x);
  int64_t groups = operands->groups;
  size_t rank = operands->kernel.size();
  ArrayRef<int64_t> inSize = xType.getShape().drop_front(2);

  llvm::Expected<SlidingWindow> window = readSlidingWindow(imp, operands->kernel);
  if (!window)
    return window.takeError();
  SmallVector<int64_t> outputPadding =
      imp.intsAttr("output_padding").value_or(SmallVector<int64_t>{});
  if (outputPadding.empty())
    outputPadding.assign(rank, 0);
  if (outputPadding.size() != rank)
    return imp.fail("output_padding must have one entry per spatial dim");
  SmallVector<int64_t> outputShape =
      imp.intsAttr("output_shape").value_or(SmallVector<int64_t>{});
  if (outputShape.size() == rank + 2) // some exporters include N and C
    outputShape.erase(outputShape.begin(), outputShape.begin() + 2);
  if (!outputShape.empty() && outputShape.size() != rank)
    return imp.fail("output_shape must have one entry per spatial dim");
  bool same = window->autoPad == "SAME_UPPER" || window->autoPad == "SAME_LOWER";
  if (window->autoPad == "VALID")
    window->padBegin.assign(rank, 0);

  SmallVector<int64_t> outSize, padBegin;
  for (size_t i = 0; i < rank; ++i) {
    // The full (unpadded) output of the transposed convolution.
    int64_t full = window->strides[i] * (inSize[i] - 1) + outputPadding[i] +
                   window->span(i);
    if (!outputShape.empty() || same) {
      // Pads follow from the requested size.
      int64_t out = outputShape.empty() ? inSize[i] * window->strides[i]
                                        : outputShape[i];
      int64_t total = full - out;
      padBegin.push_back(window->autoPad == "SAME_UPPER"
                             ? floorDiv(total, 2)
                             : total - floorDiv(total, 2));
      outSize.push_back(out);
    } else {
      padBegin.push_back(window->padBegin[i]);
      outSize.push_back(full - window->padBegin[i] - window->padEnd[i]);
    }
    if (outSize.back() <= 0)
      return imp.fail("the output would be empty in spatial dim " +
                      llvm::Twine(i));
  }

  // out[o] = sum_k x[(o + padBegin - k * d) / s]: a stride-1 convolution
  // with the flipped kernel over x spread out with stride s from padded
  // position (K - 1) * d - padBegin.
  SmallVector<ConvDim> dims;
  for (size_t i = 0; i < rank; ++i)
    dims.push_back(ConvDim{inSize[i], outSize[i], window->kernel[i],
                           window->dilations[i], /*stride=*/1,
                           window->span(i) - 1 - padBegin[i],
                           /*spread=*/window->strides[i], /*flip=*/true});
  return setResult(imp,
                   buildGroupedConv(imp, x, operands->weight.value,
                                    /*inputChannelsFirst=*/true, groups, dims,
                                    /*biasInput=*/2),
                   operands->x.onnxType);
}

void mlir::nibble::onnx_import::registerConvolutionConverters(
    ConverterRegistry &registry) {
  registry["::Conv"] = convertConv;
  registry["::ConvInteger"] = convertConvInteger;
  registry["::QLinearConv"] = convertQLinearConv;
  registry["::ConvTranspose"] = convertConvTranspose;
}
