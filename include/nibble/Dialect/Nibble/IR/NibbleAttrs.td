//===- NibbleAttrs.td - nibble attributes ------------------*- tablegen -*-===//

#ifndef NIBBLE_DIALECT_NIBBLE_IR_NIBBLEATTRS_TD
#define NIBBLE_DIALECT_NIBBLE_IR_NIBBLEATTRS_TD

include "nibble/Dialect/Nibble/IR/NibbleBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Nibble_Granularity : I32EnumAttr<"Granularity",
    "how many elements share one scale", [
      I32EnumAttrCase<"PerTensor", 0, "per_tensor">,
      I32EnumAttrCase<"PerChannel", 1, "per_channel">,
      I32EnumAttrCase<"PerGroup", 2, "per_group">
    ]> {
  let cppNamespace = "::mlir::nibble";
  let genSpecializedAttr = 0;
}

def Nibble_SchemeAttr : AttrDef<Nibble_Dialect, "Scheme"> {
  let mnemonic = "scheme";
  let summary = "how an integer tensor encodes real values";
  let description = [{
    A quantization scheme. Its parts, in printed order:

    - storage: `i4`, `i8` (signed) or `u4`, `u8` (unsigned) integers, also
      `i2`/`u2`. The quantized tensor itself is a signless `iN` tensor; the
      scheme says how to read its bits.
    - granularity:
      - `per_tensor`: one scale (a rank-0 scale tensor).
      - `per_channel<axis = A>`: one scale per index of dimension A (a rank-1
        scale tensor of that size).
      - `per_group<axis = A, size = G>`: one scale per G consecutive elements
        along dimension A; the scale tensor has the value's rank, with
        dimension A equal to ceil(dim(A) / G).
    - `symmetric` (no zero point operand) or `zero_point` (a zero-point
      operand of the scale's shape, holding storage integers).
    - `scale = T`: the scale element type (f32, f16 or bf16).

    Examples:

    ```mlir
    #nibble.scheme<i8, per_channel<axis = 1>, symmetric, scale = f32>
    #nibble.scheme<u4, per_group<axis = 0, size = 128>, zero_point, scale = f32>
    #nibble.scheme<u8, per_tensor, zero_point, scale = f32>
    ```

    The verifier requires: bits in {2, 4, 8, 16}; a non-negative axis; a group
    size of at least 2 for per_group (and 0 elsewhere); a float scale type.
  }];
  let parameters = (ins
    "unsigned":$bits,
    "bool":$isSigned,
    "::mlir::nibble::Granularity":$granularity,
    "int64_t":$axis,
    "int64_t":$groupSize,
    "bool":$hasZeroPoint,
    "::mlir::FloatType":$scaleType
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The smallest and largest storage values, e.g. -8 and 7 for i4.
    int64_t getQMin() const;
    int64_t getQMax() const;
    /// The signless integer type that holds the quantized values.
    ::mlir::IntegerType getStorageType() const;
    bool isPerTensor() const { return getGranularity() == Granularity::PerTensor; }
    bool isPerChannel() const { return getGranularity() == Granularity::PerChannel; }
    bool isPerGroup() const { return getGranularity() == Granularity::PerGroup; }
    /// The shape the scale (and zero-point) tensor must have for a quantized
    /// value of shape `valueShape`.
    ::llvm::SmallVector<int64_t> getScaleShape(::llvm::ArrayRef<int64_t> valueShape) const;
    /// The index into the scale tensor for element `index` of the value, as
    /// an affine map from value indices to scale indices.
    ::mlir::AffineMap getScaleMap(unsigned valueRank) const;
    /// A short human name: "int8", "uint4-g128", ...
    std::string getShortName() const;
  }];
}

#endif // NIBBLE_DIALECT_NIBBLE_IR_NIBBLEATTRS_TD
