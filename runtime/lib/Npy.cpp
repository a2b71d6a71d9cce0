//===- Npy.cpp - Reading and writing NumPy .npy files ---------------------===//
//
// Format:
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html A .npy
// file is the magic "\x93NUMPY", a version, a little-endian header length, a
// Python dict literal describing the array, then the raw data.
//
//===----------------------------------------------------------------------===//
#include "nibble/Runtime/Npy.h"
#include "nibble/Runtime/Tensor.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

// The data is copied as is, so the host must match the files' byte order.
#if defined(__BYTE_ORDER__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the nibble runtime assumes a little-endian host");
#endif

namespace nibble {
namespace {

const char Magic[] = "\x93NUMPY";
constexpr size_t MagicSize = 6;

struct DtypeCode {
  const char *Descr;
  nibble_dtype Dtype;
};
const DtypeCode DtypeCodes[] = {
    {"<f4", NIBBLE_DTYPE_F32},  {"<f8", NIBBLE_DTYPE_F64},
    {"|i1", NIBBLE_DTYPE_I8},   {"|u1", NIBBLE_DTYPE_U8},
    {"<i4", NIBBLE_DTYPE_I32},  {"<i8", NIBBLE_DTYPE_I64},
    {"|b1", NIBBLE_DTYPE_BOOL}, {"<f2", NIBBLE_DTYPE_F16},
    {"<i2", NIBBLE_DTYPE_I16},  {"<u2", NIBBLE_DTYPE_U16},
    {"<u4", NIBBLE_DTYPE_U32},  {"<u8", NIBBLE_DTYPE_U64},
};

/// Placeholder for raw-byte ('|V1', '|V2') arrays until adoptDtype.
const DtypeCode RawCode = {"|V", NIBBLE_DTYPE_U8};

const DtypeCode *findDescr(const std::string &Descr) {
  for (const DtypeCode &Code : DtypeCodes)
    if (Descr == Code.Descr)
      return &Code;
  return nullptr;
}

/// Parses the header's Python dict literal, e.g.
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// accepting exactly the three keys np.save writes.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &Text) : Text(Text) {}

  bool parse(std::string &Descr, bool &Fortran, std::vector<int64_t> &Shape,
             std::string &Why) {
    bool HaveDescr = false, HaveFortran = false, HaveShape = false;
    if (!consume('{'))
      return fail(Why, "expected '{'");
    while (!consume('}')) {
      std::string Key, Word;
      if (!parseString(Key) || !consume(':'))
        return fail(Why, "expected 'key': value");
      if (Key == "descr") {
        if (!parseString(Descr))
          return fail(Why, "'descr' is not a plain dtype string (structured "
                           "dtypes are not supported)");
        HaveDescr = true;
      } else if (Key == "fortran_order") {
        if (!parseWord(Word) || (Word != "True" && Word != "False"))
          return fail(Why, "'fortran_order' is not True or False");
        Fortran = Word == "True";
        HaveFortran = true;
      } else if (Key == "shape") {
        if (!parseTuple(Shape))
          return fail(Why, "'shape' is not a tuple of non-negative integers");
        HaveShape = true;
      } else {
        return fail(Why, "unexpected key '" + Key.substr(0, 32) + "'");
      }
      if (!consume(',') && peek() != '}')
        return fail(Why, "expected ',' or '}'");
    }
    skipSpace();
    if (Pos != Text.size())
      return fail(Why, "unexpected text after '}'");
    if (!HaveDescr || !HaveFortran || !HaveShape)
      return fail(Why, "'descr', 'fortran_order' or 'shape' is missing");
    return true;
  }

private:
  static bool fail(std::string &Why, std::string Text) {
    Why = std::move(Text);
    return false;
  }
  char peek() {
    skipSpace();
    return Pos < Text.size() ? Text[Pos] : '\0';
  }
  void skipSpace() {
    while (Pos < Text.size() &&
           std::isspace(static_cast<unsigned char>(Text[Pos])))
      ++Pos;
  }
  bool consume(char C) {
    if (peek() != C)
      return false;
    ++Pos;
    return true;
  }
  bool parseString(std::string &Out) {
    char Quote = peek();
    if (Quote != '\'' && Quote != '"')
      return false;
    size_t End = Text.find(Quote, Pos + 1);
    if (End == std::string::npos)
      return false;
    Out = Text.substr(Pos + 1, End - Pos - 1);
    Pos = End + 1;
    return true;
  }
  bool parseWord(std::string &Out) {
    skipSpace();
    size_t Start = Pos;
    while (Pos < Text.size() &&
           std::isalpha(static_cast<unsigned char>(Text[Pos])))
      ++Pos;
    Out = Text.substr(Start, Pos - Start);
    return !Out.empty();
  }
  bool parseTuple(std::vector<int64_t> &Out) {
    Out.clear();
    if (!consume('('))
      return false;
    while (!consume(')')) {
      skipSpace();
      size_t Start = Pos;
      int64_t Value = 0;
      for (; Pos < Text.size() &&
             std::isdigit(static_cast<unsigned char>(Text[Pos]));
           ++Pos) {
        if (Value > (std::numeric_limits<int64_t>::max() - 9) / 10)
          return false;
        Value = Value * 10 + (Text[Pos] - '0');
      }
      if (Pos == Start)
        return false;
      if (Pos < Text.size() && Text[Pos] == 'L') // Written by Python 2.
        ++Pos;
      Out.push_back(Value);
      if (!consume(',') && peek() != ')')
        return false;
    }
    return true;
  }

  const std::string &Text;
  size_t Pos = 0;
};

std::string formatTuple(const std::vector<int64_t> &Shape) {
  std::string Text = "(";
  for (size_t I = 0; I < Shape.size(); ++I)
    Text += (I ? ", " : "") + std::to_string(Shape[I]);
  return Text + (Shape.size() == 1 ? ",)" : ")");
}

bool fail(std::string &Error, const std::string &Text) {
  Error = oneLine(Text);
  return false;
}

} // namespace

size_t NpyArray::itemSize() const {
  return RawItemSize ? RawItemSize : dtypeSize(Dtype);
}

std::string NpyArray::dtypeDescription() const {
  if (RawItemSize)
    return "raw bytes ('|V" + std::to_string(RawItemSize) + "')";
  return dtypeName(Dtype);
}

bool NpyArray::adoptDtype(nibble_dtype Want) {
  if (!RawItemSize)
    return Dtype == Want;
  if (!isMlDtype(Want) || dtypeSize(Want) != RawItemSize)
    return false;
  Dtype = Want;
  RawItemSize = 0;
  return true;
}

bool parseNpy(const uint8_t *Data, size_t Size, const std::string &Source,
              NpyArray &Out, std::string &Error) {
  const std::string Name = "'" + Source + "'";
  if (Size < MagicSize + 2 || std::memcmp(Data, Magic, MagicSize) != 0)
    return fail(Error, Name + " is not a .npy file (no \\x93NUMPY magic); "
                              "save the array with numpy.save");
  unsigned Major = Data[6], Minor = Data[7];
  if (Major < 1 || Major > 3 || Minor != 0)
    return fail(Error, Name + " uses .npy format version " +
                           std::to_string(Major) + "." + std::to_string(Minor) +
                           "; only 1.0, 2.0 and 3.0 are supported");
  // Version 1.0 stores the header length in 2 bytes, later versions in 4.
  size_t LenBytes = Major == 1 ? 2 : 4;
  if (Size < MagicSize + 2 + LenBytes)
    return fail(Error, Name + " is truncated inside its header");
  size_t HeaderLen = 0;
  for (size_t I = 0; I < LenBytes; ++I)
    HeaderLen |= static_cast<size_t>(Data[MagicSize + 2 + I]) << (8 * I);
  size_t Offset = MagicSize + 2 + LenBytes + HeaderLen;
  if (Offset > Size)
    return fail(Error, Name + " is truncated inside its header");

  std::string Header(reinterpret_cast<const char *>(Data) + Offset - HeaderLen,
                     HeaderLen);
  std::string Descr, Why;
  bool Fortran = false;
  std::vector<int64_t> Shape;
  if (!HeaderParser(Header).parse(Descr, Fortran, Shape, Why))
    return fail(Error, Name + " has a malformed .npy header (" + Why +
                           "); re-save it with numpy.save");

  // Byte order is meaningless for 1-byte types and raw bytes; np.save
  // writes '|' for the former and '<' for ml_dtypes arrays.
  std::string Normalized = Descr;
  if (Normalized.size() == 3 && (Normalized[2] == '1' || Normalized[1] == 'V') &&
      std::string("<>=").find(Normalized[0]) != std::string::npos)
    Normalized[0] = '|';
  // ml_dtypes' float8_e5m2 claims the otherwise unused 'f1'.
  size_t RawItemSize =
      Normalized == "|V1" || Normalized == "|f1" ? 1 : Normalized == "|V2" ? 2 : 0;
  const DtypeCode *Code = RawItemSize ? &RawCode : findDescr(Normalized);
  if (!Code && !Descr.empty() && Descr[0] == '>' &&
      findDescr("<" + Descr.substr(1)))
    return fail(Error, Name + " holds big-endian data ('" + Descr +
                           "'); save arr.astype('<" + Descr.substr(1) +
                           "') instead");
  if (!Code)
    return fail(Error, Name + " has dtype '" + Descr.substr(0, 32) +
                           "', which is not supported; save it as float16/32/64, "
                           "(u)int8/16/32/64, bool or an ml_dtypes type");
  if (Fortran)
    return fail(Error, Name + " is in Fortran order; save "
                              "numpy.ascontiguousarray(arr) instead");

  size_t ElemSize = RawItemSize ? RawItemSize : dtypeSize(Code->Dtype);
  size_t Count = 1;
  for (int64_t Dim : Shape) {
    size_t D = static_cast<size_t>(Dim);
    if (D != 0 && Count > std::numeric_limits<size_t>::max() / ElemSize / D)
      return fail(Error, Name + " has an impossibly large shape " +
                             formatTuple(Shape));
    Count *= D;
  }
  size_t Need = Count * ElemSize, Have = Size - Offset;
  if (Have < Need)
    return fail(Error, Name + " is truncated: shape " + formatTuple(Shape) +
                           " of " +
                           (RawItemSize ? "raw bytes ('" + Normalized + "')"
                                        : std::string(dtypeName(Code->Dtype))) +
                           " needs " +
                           std::to_string(Need) + " data bytes but only " +
                           std::to_string(Have) + " follow the header");
  if (Have > Need)
    return fail(Error, Name + " has " + std::to_string(Have - Need) +
                           " unexpected bytes after the array data; re-save "
                           "it with numpy.save");

  Out.Dtype = Code->Dtype;
  Out.RawItemSize = RawItemSize;
  Out.Shape = std::move(Shape);
  Out.Bytes.assign(Data + Offset, Data + Size);
  return true;
}

bool readNpy(const std::string &Path, NpyArray &Out, std::string &Error) {
  FILE *File = std::fopen(Path.c_str(), "rb");
  if (!File)
    return fail(Error, "cannot open '" + Path + "': " + std::strerror(errno));
  std::vector<uint8_t> Contents;
  uint8_t Chunk[1 << 16];
  size_t Got;
  while ((Got = std::fread(Chunk, 1, sizeof(Chunk), File)) > 0)
    Contents.insert(Contents.end(), Chunk, Chunk + Got);
  bool ReadFailed = std::ferror(File);
  int Errno = errno;
  std::fclose(File);
  if (ReadFailed)
    return fail(Error, "cannot read '" + Path + "': " + std::strerror(Errno));
  return parseNpy(Contents.data(), Contents.size(), Path, Out, Error);
}

std::vector<uint8_t> encodeNpy(nibble_dtype Dtype,
                               const std::vector<int64_t> &Shape,
                               const void *Data) {
  std::string Descr = isMlDtype(Dtype) ? "|V" + std::to_string(dtypeSize(Dtype)) : "";
  for (const DtypeCode &Code : DtypeCodes)
    if (Code.Dtype == Dtype)
      Descr = Code.Descr;
  std::string Header =
      std::string("{'descr': '") + Descr +
      "', 'fortran_order': False, 'shape': " + formatTuple(Shape) + ", }";
  // Like np.save: pad with spaces and a final newline so the data starts at
  // a multiple of 64 bytes; switch to version 2.0 if the length needs it.
  size_t Prefix = MagicSize + 2 + 2;
  auto padded = [&] {
    return (Prefix + Header.size() + 1 + 63) / 64 * 64 - Prefix;
  };
  if (padded() > 0xffff)
    Prefix += 2;
  size_t HeaderLen = padded();
  Header.resize(HeaderLen - 1, ' ');
  Header += '\n';

  size_t DataSize = numElements(Shape.data(), Shape.size()) * dtypeSize(Dtype);
  std::vector<uint8_t> Image(Magic, Magic + MagicSize);
  Image.push_back(Prefix == 10 ? 1 : 2);
  Image.push_back(0);
  for (size_t I = 0; I < Prefix - MagicSize - 2; ++I)
    Image.push_back(static_cast<uint8_t>(HeaderLen >> (8 * I)));
  Image.insert(Image.end(), Header.begin(), Header.end());
  const uint8_t *Bytes = static_cast<const uint8_t *>(Data);
  Image.insert(Image.end(), Bytes, Bytes + DataSize);
  return Image;
}

bool writeNpy(const std::string &Path, nibble_dtype Dtype,
              const std::vector<int64_t> &Shape, const void *Data,
              std::string &Error) {
  std::vector<uint8_t> Image = encodeNpy(Dtype, Shape, Data);
  FILE *File = std::fopen(Path.c_str(), "wb");
  if (!File)
    return fail(Error, "cannot create '" + Path + "': " + std::strerror(errno));
  errno = 0;
  bool Ok = std::fwrite(Image.data(), 1, Image.size(), File) == Image.size();
  int Errno = errno;
  Ok = (std::fclose(File) == 0) && Ok;
  if (!Ok)
    return fail(Error, "cannot write '" + Path +
                           "': " + std::strerror(Errno ? Errno : errno));
  return true;
}

bool writeNpy(const std::string &Path, const NpyArray &Array,
              std::string &Error) {
  return writeNpy(Path, Array.Dtype, Array.Shape, Array.Bytes.data(), Error);
}

} // namespace nibble
