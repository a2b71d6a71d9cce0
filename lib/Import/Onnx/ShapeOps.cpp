//===- ShapeOps.cpp - ONNX Reshape, Transpose, Identity, Constant ---------===//
//
// Reshape is a view (collapse to rank 1, then expand); a constant input
// folds to a reshaped constant so shape computations stay constant.
// Transpose is linalg.transpose. Constant covers every value_* form except
// strings and sparse tensors.
//
//===----------------------------------------------------------------------===//

#include "IRBuilders.h"
#include "ImportContext.h"

#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;
using namespace mlir::nibble;
using namespace mlir::nibble::onnx_import;

/// Identity: the input value itself.
static llvm::Error convertIdentity(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  imp.setOutput(0, x->value, x->onnxType);
  return llvm::Error::success();
}

/// Dropout at inference: the input itself, and an all-true mask. Training
/// mode (opset 12+: a constant true `training_mode`; before opset 7:
/// is_test = 0) drops random elements, which an inference compiler does not
/// do, unless the ratio is 0.
static llvm::Error convertDropout(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  bool training = false;
  double ratio = 0.5;
  if (imp.opset() >= 12) {
    if (imp.hasInput(2)) {
      llvm::Expected<ElementsAttr> mode = imp.constantInput(2, "training_mode");
      if (!mode)
        return mode.takeError();
      auto dense = dyn_cast<DenseElementsAttr>(*mode);
      if (!dense || dense.getNumElements() != 1)
        return imp.fail("training_mode must be a bool scalar");
      training = dense.getElementType().isInteger(1)
                     ? *dense.getValues<bool>().begin()
                     : !(*dense.getValues<APInt>().begin()).isZero();
    }
    if (imp.hasInput(1)) {
      llvm::Expected<ElementsAttr> ratioAttr = imp.constantInput(1, "ratio");
      if (!ratioAttr)
        return ratioAttr.takeError();
      std::optional<SmallVector<float>> values = readFloatElements(*ratioAttr);
      if (!values || values->empty())
        return imp.fail("ratio must be a float scalar");
      ratio = (*values)[0];
    }
  } else {
    if (imp.opset() < 7)
      training = imp.intAttr("is_test").value_or(0) == 0;
    ratio = imp.floatAttr("ratio").value_or(0.5f);
  }
  if (training && ratio != 0.0)
    return imp.fail("training-mode Dropout drops random elements; nibble compiles inference "
                    "graphs: export the model in eval mode");
  imp.setOutput(0, x->value, x->onnxType);
  if (imp.node().output_size() > 1 && !imp.node().output(1).empty()) {
    OpBuilder &b = imp.builder();
    Value mask = buildElementwise(b, imp.loc(), {x->value}, b.getI1Type(),
                                  [](OpBuilder &nb, Location loc, ValueRange) -> Value {
                                    return arith::ConstantOp::create(nb, loc,
                                                                     nb.getBoolAttr(true));
                                  });
    imp.setOutput(1, mask, onnx::TensorProto::BOOL);
  }
  return llvm::Error::success();
}

/// DepthToSpace (`toSpace`) and SpaceToDepth on [N, C, H, W]: a reshape
/// that splits out the block, a transpose, and a reshape that merges it.
static llvm::Error convertDepthSpace(NodeImporter &imp, bool toSpace) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  ArrayRef<int64_t> shape = tensorTypeOf(x->value).getShape();
  std::optional<int64_t> block = imp.intAttr("blocksize");
  if (shape.size() != 4)
    return imp.fail("expects an [N, C, H, W] input");
  if (!block || *block < 1)
    return imp.fail("needs a positive blocksize attribute");
  int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3], bs = *block;
  SmallVector<int64_t> split, perm, merged;
  if (toSpace) {
    if (c % (bs * bs) != 0)
      return imp.fail("channels (" + llvm::Twine(c) + ") are not a multiple of blocksize^2");
    bool crd = imp.stringAttr("mode").value_or("DCR") == "CRD";
    int64_t depth = c / (bs * bs);
    split = crd ? SmallVector<int64_t>{n, depth, bs, bs, h, w}
                : SmallVector<int64_t>{n, bs, bs, depth, h, w};
    perm = crd ? SmallVector<int64_t>{0, 1, 4, 2, 5, 3}
               : SmallVector<int64_t>{0, 3, 4, 1, 5, 2};
    merged = {n, depth, h * bs, w * bs};
  } else {
    if (h % bs != 0 || w % bs != 0)
      return imp.fail("height and width must be multiples of blocksize");
    split = {n, c, h / bs, bs, w / bs, bs};
    perm = {0, 3, 5, 1, 2, 4};
    merged = {n, c * bs * bs, h / bs, w / bs};
  }
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value y = buildReshape(b, loc, buildTranspose(b, loc, buildReshape(b, loc, x->value, split),
                                                perm),
                         merged);
  imp.setOutput(0, y, x->onnxType);
  return llvm::Error::success();
}

/// EyeLike: a 2-D tensor of the input's shape with ones on diagonal `k`,
/// of type `dtype` (default: the input's).
static llvm::Error convertEyeLike(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  RankedTensorType type = tensorTypeOf(x->value);
  if (type.getRank() != 2)
    return imp.fail("expects a 2-D input");
  int32_t onnxType = static_cast<int32_t>(imp.intAttr("dtype").value_or(x->onnxType));
  Type elementType = getElementType(imp.context(), onnxType);
  if (!elementType)
    return imp.fail("unsupported dtype " + onnxTypeName(onnxType));
  int64_t k = imp.intAttr("k").value_or(0);
  OpBuilder &b = imp.builder();
  Location loc = imp.loc();
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), elementType);
  auto generic = linalg::GenericOp::create(
      b, loc, empty.getType(), ValueRange{}, ValueRange{empty},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(2)},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nl, ValueRange) {
        Value row = linalg::IndexOp::create(nb, nl, 0);
        Value column = linalg::IndexOp::create(nb, nl, 1);
        Value shifted = arith::AddIOp::create(nb, nl, row, arith::ConstantIndexOp::create(nb, nl, k));
        Value onDiagonal = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, column, shifted);
        Value one = isa<FloatType>(elementType)
                        ? arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 1.0))
                        : arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(elementType, 1));
        Value zero = isa<FloatType>(elementType)
                         ? arith::ConstantOp::create(nb, nl, nb.getFloatAttr(elementType, 0.0))
                         : arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(elementType, 0));
        linalg::YieldOp::create(nb, nl,
                                arith::SelectOp::create(nb, nl, onDiagonal, one, zero).getResult());
      });
  imp.setOutput(0, generic.getResult(0), onnxType);
  return llvm::Error::success();
}

/// Constant: value (a TensorProto), value_float(s) or value_int(s).
static llvm::Error convertConstant(NodeImporter &imp) {
  OpBuilder &b = imp.builder();
  ElementsAttr value;
  int32_t onnxType = onnx::TensorProto::FLOAT;
  if (const onnx::AttributeProto *tensor = imp.attr("value")) {
    llvm::Expected<ElementsAttr> attr =
        importTensor(tensor->t(), imp.context(), imp.baseDir());
    if (!attr)
      return imp.fail(llvm::toString(attr.takeError()));
    value = *attr;
    onnxType = tensor->t().data_type();
  } else if (std::optional<float> f = imp.floatAttr("value_float")) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()), *f);
  } else if (const onnx::AttributeProto *fs = imp.attr("value_floats")) {
    SmallVector<float> v(fs->floats().begin(), fs->floats().end());
    value = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(v.size())}, b.getF32Type()),
        ArrayRef<float>(v));
  } else if (std::optional<int64_t> i = imp.intAttr("value_int")) {
    value = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()), *i);
    onnxType = onnx::TensorProto::INT64;
  } else if (std::optional<SmallVector<int64_t>> is = imp.intsAttr("value_ints")) {
    value = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(is->size())}, b.getI64Type()),
        ArrayRef<int64_t>(*is));
    onnxType = onnx::TensorProto::INT64;
  } else {
    return imp.fail("has no value attribute nibble supports (sparse and string "
                    "constants are not supported)");
  }
  Value constant = arith::ConstantOp::create(b, imp.loc(), cast<TypedAttr>(value));
  imp.setOutput(0, constant, onnxType);
  return llvm::Error::success();
}

/// Transpose: perm, or the reversed dims by default.
static llvm::Error convertTranspose(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  int64_t rank = tensorTypeOf(x->value).getRank();
  SmallVector<int64_t> perm;
  if (std::optional<SmallVector<int64_t>> given = imp.intsAttr("perm"))
    perm = *given;
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  SmallVector<bool> seen(rank, false);
  if (static_cast<int64_t>(perm.size()) != rank)
    return imp.fail("perm has " + llvm::Twine(perm.size()) +
                    " entries for a rank-" + llvm::Twine(rank) + " input");
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p])
      return imp.fail("perm is not a permutation of 0.." + llvm::Twine(rank - 1));
    seen[p] = true;
  }
  imp.setOutput(0, buildTranspose(imp.builder(), imp.loc(), x->value, perm),
                x->onnxType);
  return llvm::Error::success();
}

/// The constant behind `value` under `shape` (same data, no copy for
/// resource blobs), or null when `value` is not a constant.
static ElementsAttr reshapeConstant(Value value, ArrayRef<int64_t> shape) {
  Attribute attr = getConstantElements(value);
  if (!attr)
    return {};
  auto type = RankedTensorType::get(
      shape, cast<ShapedType>(cast<TypedAttr>(attr).getType()).getElementType());
  if (auto dense = dyn_cast<DenseElementsAttr>(attr))
    return dense.reshape(type);
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr))
    return DenseResourceElementsAttr::get(type, resource.getRawHandle());
  return {};
}

/// The output shape of ONNX Reshape: 0 copies the input dim (unless
/// allowzero), one -1 is inferred.
static llvm::Expected<SmallVector<int64_t>>
resolveReshape(NodeImporter &imp, ArrayRef<int64_t> inputShape,
               ArrayRef<int64_t> requested, bool allowZero) {
  SmallVector<int64_t> shape;
  int64_t known = 1, inferAt = -1;
  for (auto [i, d] : llvm::enumerate(requested)) {
    int64_t dim = d;
    if (dim == 0 && !allowZero) {
      if (i >= inputShape.size())
        return imp.fail("shape entry " + llvm::Twine(i) +
                        " is 0 (copy) but the input has only " +
                        llvm::Twine(inputShape.size()) + " dims");
      dim = inputShape[i];
    }
    if (dim == -1) {
      if (inferAt >= 0)
        return imp.fail("shape has more than one -1");
      inferAt = i;
    } else if (dim < 0) {
      return imp.fail("shape entry " + llvm::Twine(dim) + " is invalid");
    } else {
      known *= dim;
    }
    shape.push_back(dim);
  }
  int64_t total = 1;
  for (int64_t d : inputShape)
    total *= d;
  if (inferAt >= 0) {
    if (known == 0 || total % known != 0)
      return imp.fail("cannot infer the -1 dimension: " + llvm::Twine(total) +
                      " elements do not divide by " + llvm::Twine(known));
    shape[inferAt] = total / known;
  } else if (known != total) {
    return imp.fail("cannot reshape " + llvm::Twine(total) + " elements into " +
                    llvm::Twine(known));
  }
  return shape;
}

/// Reshape: the shape attribute before opset 5, a constant input from it;
/// a constant input folds to a reshaped constant.
static llvm::Error convertReshape(NodeImporter &imp) {
  llvm::Expected<OnnxValue> x = imp.input(0);
  if (!x)
    return x.takeError();
  SmallVector<int64_t> requested;
  if (imp.opset() < 5) {
    requested = imp.intsAttr("shape").value_or(SmallVector<int64_t>{});
  } else {
    llvm::Expected<OnnxValue> shapeInput = imp.input(1);
    if (!shapeInput)
      return shapeInput.takeError();
    // Initializers, Constant nodes and folded shape computations are all
    // arith.constant here.
    Attribute shapeAttr = getConstantElements(shapeInput->value);
    if (!shapeAttr)
      return imp.fail("the shape input ('" + imp.node().input(1) +
                      "') is computed at run time, but nibble needs it at "
                      "compile time; if it is a graph input, freeze it with --bind-input");
    std::optional<SmallVector<int64_t>> values =
        readIntElements(shapeAttr, /*isSigned=*/true);
    if (!values)
      return imp.fail("the shape input must be an int64 constant");
    requested = *values;
  }
  bool allowZero = imp.opset() >= 14 && imp.intAttr("allowzero").value_or(0) != 0;
  llvm::Expected<SmallVector<int64_t>> shape =
      resolveReshape(imp, tensorTypeOf(x->value).getShape(), requested, allowZero);
  if (!shape)
    return shape.takeError();
  // Reshapes inside shape computations fold so later ops see constants.
  if (ElementsAttr folded = reshapeConstant(x->value, *shape)) {
    imp.setOutput(0,
                  arith::ConstantOp::create(imp.builder(), imp.loc(),
                                            cast<TypedAttr>(folded)),
                  x->onnxType);
    return llvm::Error::success();
  }
  imp.setOutput(0, buildReshape(imp.builder(), imp.loc(), x->value, *shape),
                x->onnxType);
  return llvm::Error::success();
}

void mlir::nibble::onnx_import::registerShapeConverters(ConverterRegistry &registry) {
  registry["::Identity"] = convertIdentity;
  registry["::Dropout"] = convertDropout;
  registry["::DepthToSpace"] = [](NodeImporter &imp) { return convertDepthSpace(imp, true); };
  registry["::SpaceToDepth"] = [](NodeImporter &imp) { return convertDepthSpace(imp, false); };
  registry["::EyeLike"] = convertEyeLike;
  registry["::Constant"] = convertConstant;
  registry["::Transpose"] = convertTranspose;
  registry["::Reshape"] = convertReshape;
}
