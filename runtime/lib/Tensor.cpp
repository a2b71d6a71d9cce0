//===- Tensor.cpp - Dtypes, shapes and aligned buffers --------------------===//
//
// See Tensor.h.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/Tensor.h"

#include <cstring>
#include <new>

namespace nibble {

namespace {
struct DtypeInfo {
  nibble_dtype Dtype;
  size_t Size;
  const char *Name, *ShortName;
};
const DtypeInfo Dtypes[] = {
    {NIBBLE_DTYPE_F32, 4, "float32", "f32"},
    {NIBBLE_DTYPE_F64, 8, "float64", "f64"},
    {NIBBLE_DTYPE_I8, 1, "int8", "i8"},
    {NIBBLE_DTYPE_U8, 1, "uint8", "u8"},
    {NIBBLE_DTYPE_I32, 4, "int32", "i32"},
    {NIBBLE_DTYPE_I64, 8, "int64", "i64"},
    {NIBBLE_DTYPE_BOOL, 1, "bool", "bool"},
    {NIBBLE_DTYPE_F16, 2, "float16", "f16"},
    {NIBBLE_DTYPE_I16, 2, "int16", "i16"},
    {NIBBLE_DTYPE_U16, 2, "uint16", "u16"},
    {NIBBLE_DTYPE_U32, 4, "uint32", "u32"},
    {NIBBLE_DTYPE_U64, 8, "uint64", "u64"},
    {NIBBLE_DTYPE_BF16, 2, "bfloat16", "bf16"},
    {NIBBLE_DTYPE_F8E4M3FN, 1, "float8_e4m3fn", "f8e4m3fn"},
    {NIBBLE_DTYPE_F8E4M3FNUZ, 1, "float8_e4m3fnuz", "f8e4m3fnuz"},
    {NIBBLE_DTYPE_F8E5M2, 1, "float8_e5m2", "f8e5m2"},
    {NIBBLE_DTYPE_F8E5M2FNUZ, 1, "float8_e5m2fnuz", "f8e5m2fnuz"},
    {NIBBLE_DTYPE_U4, 1, "uint4", "u4"},
    {NIBBLE_DTYPE_I4, 1, "int4", "i4"},
    {NIBBLE_DTYPE_F4E2M1, 1, "float4_e2m1fn", "f4e2m1"},
    {NIBBLE_DTYPE_F8E8M0, 1, "float8_e8m0fnu", "f8e8m0"},
    {NIBBLE_DTYPE_U2, 1, "uint2", "u2"},
    {NIBBLE_DTYPE_I2, 1, "int2", "i2"},
};
const DtypeInfo Unknown = {NIBBLE_DTYPE_F32, 0, "unknown", "unknown"};

const DtypeInfo &info(nibble_dtype Dtype) {
  for (const DtypeInfo &Info : Dtypes)
    if (Info.Dtype == Dtype)
      return Info;
  return Unknown;
}
} // namespace

size_t dtypeSize(nibble_dtype Dtype) { return info(Dtype).Size; }
bool isMlDtype(nibble_dtype Dtype) {
  return Dtype >= NIBBLE_DTYPE_BF16 && Dtype <= NIBBLE_DTYPE_I2;
}
const char *dtypeName(nibble_dtype Dtype) { return info(Dtype).Name; }
const char *dtypeShortName(nibble_dtype Dtype) { return info(Dtype).ShortName; }

size_t numElements(const int64_t *Shape, size_t Rank) {
  size_t Count = 1;
  for (size_t I = 0; I < Rank; ++I)
    Count *= Shape[I] > 0 ? static_cast<size_t>(Shape[I]) : 0;
  return Count;
}

std::string formatShape(const int64_t *Shape, size_t Rank) {
  std::string Text = "[";
  for (size_t I = 0; I < Rank; ++I)
    Text += (I ? "," : "") + std::to_string(Shape[I]);
  return Text + "]";
}

std::string formatShape(const std::vector<int64_t> &Shape) {
  return formatShape(Shape.data(), Shape.size());
}

std::string formatSignature(const nibble_tensor_desc &Desc) {
  return dtypeShortName(Desc.dtype) +
         formatShape(Desc.shape, Desc.rank > 0 ? Desc.rank : 0);
}

std::string formatNames(const nibble_tensor_desc *Descs, int32_t Count) {
  std::string Names;
  for (int32_t I = 0; I < Count; ++I)
    Names += (I ? ", '" : "'") +
             std::string(Descs[I].name ? Descs[I].name : "") + "'";
  return Names.empty() ? "none" : Names;
}

std::string oneLine(std::string Text) {
  for (char &C : Text)
    if (static_cast<unsigned char>(C) < 0x20 || C == 0x7f)
      C = '?';
  return Text;
}

AlignedBuffer::AlignedBuffer(size_t Size) : Size(Size) {
  // aligned_alloc wants a multiple of the alignment; never ask for 0 bytes so
  // that even empty tensors get a valid, non-null pointer.
  size_t Rounded =
      (Size + BufferAlignment - 1) / BufferAlignment * BufferAlignment;
  if (Rounded < Size) // Size + BufferAlignment - 1 overflowed.
    throw std::bad_alloc();
  if (Rounded == 0)
    Rounded = BufferAlignment;
  Data.reset(std::aligned_alloc(BufferAlignment, Rounded));
  if (!Data)
    throw std::bad_alloc();
  std::memset(Data.get(), 0, Rounded);
}

} // namespace nibble
