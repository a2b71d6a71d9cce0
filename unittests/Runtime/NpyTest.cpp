//===- NpyTest.cpp - Tests of the .npy reader and writer ------------------===//
#include "nibble/Runtime/Npy.h"
#include "nibble/Runtime/Tensor.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace nibble;

namespace {

std::vector<uint8_t> bytesOf(const std::string &Text) {
  return std::vector<uint8_t>(Text.begin(), Text.end());
}

/// A .npy image with the given version and header text (padded like np.save)
/// followed by Data.
std::vector<uint8_t> makeNpy(const std::string &Dict, const std::string &Data,
                             uint8_t Major = 1) {
  size_t LenBytes = Major == 1 ? 2 : 4;
  std::string Header = Dict;
  while ((8 + LenBytes + Header.size() + 1) % 64)
    Header += ' ';
  Header += '\n';
  std::string Image = std::string("\x93NUMPY", 6) + char(Major) + '\0';
  for (size_t I = 0; I < LenBytes; ++I)
    Image += char((Header.size() >> (8 * I)) & 0xff);
  return bytesOf(Image + Header + Data);
}

bool parse(const std::vector<uint8_t> &Image, NpyArray &Out,
           std::string &Error) {
  return parseNpy(Image.data(), Image.size(), "t.npy", Out, Error);
}

/// Parses Image expecting failure; returns the error after checking that it
/// is one line naming the source.
std::string parseError(const std::vector<uint8_t> &Image) {
  NpyArray Out;
  std::string Error;
  EXPECT_FALSE(parse(Image, Out, Error));
  EXPECT_EQ(Error.find('\n'), std::string::npos) << Error;
  EXPECT_NE(Error.find("'t.npy'"), std::string::npos) << Error;
  return Error;
}

#define EXPECT_CONTAINS(Text, Part)                                            \
  EXPECT_NE(std::string(Text).find(Part), std::string::npos)                   \
      << "'" << (Text) << "' lacks '" << (Part) << "'"

const std::string F32x6(24, '\1');

TEST(NpyTest, RoundTripsEveryDtypeAndRank) {
  const nibble_dtype Dtypes[] = {
      NIBBLE_DTYPE_F32, NIBBLE_DTYPE_F64, NIBBLE_DTYPE_I8,  NIBBLE_DTYPE_U8,
      NIBBLE_DTYPE_I32, NIBBLE_DTYPE_I64, NIBBLE_DTYPE_BOOL, NIBBLE_DTYPE_F16,
      NIBBLE_DTYPE_I16, NIBBLE_DTYPE_U16, NIBBLE_DTYPE_U32, NIBBLE_DTYPE_U64};
  const std::vector<std::vector<int64_t>> Shapes = {
      {}, {5}, {2, 3}, {2, 1, 3}, {1, 2, 2, 3}, {0, 4}};
  for (nibble_dtype Dtype : Dtypes) {
    for (const std::vector<int64_t> &Shape : Shapes) {
      SCOPED_TRACE(std::string(dtypeName(Dtype)) + formatShape(Shape));
      std::vector<uint8_t> Data(numElements(Shape.data(), Shape.size()) *
                                dtypeSize(Dtype));
      for (size_t I = 0; I < Data.size(); ++I)
        Data[I] = Dtype == NIBBLE_DTYPE_BOOL ? I % 2 : uint8_t(I * 37 + 1);
      std::vector<uint8_t> Image = encodeNpy(Dtype, Shape, Data.data());
      EXPECT_EQ((Image.size() - Data.size()) % 64, 0u);
      NpyArray Out;
      std::string Error;
      ASSERT_TRUE(parse(Image, Out, Error)) << Error;
      EXPECT_EQ(Out.Dtype, Dtype);
      EXPECT_EQ(Out.Shape, Shape);
      EXPECT_EQ(Out.Bytes, Data);
    }
  }
}

TEST(NpyTest, WritesTheHeaderNumpyWrites) {
  std::vector<uint8_t> Image =
      encodeNpy(NIBBLE_DTYPE_F32, {2, 3}, F32x6.data());
  std::string Text(Image.begin(), Image.end());
  ASSERT_EQ(Image.size(), 128u + 24u);
  EXPECT_EQ(Text.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(Text.substr(10, 59),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(Text[127], '\n');
  std::vector<uint8_t> ScalarImage =
      encodeNpy(NIBBLE_DTYPE_I64, {}, "abcdefgh");
  std::string Scalar(ScalarImage.begin(), ScalarImage.end());
  EXPECT_CONTAINS(Scalar, "'descr': '<i8'");
  EXPECT_CONTAINS(Scalar, "'shape': ()");
  std::vector<uint8_t> Vec = encodeNpy(NIBBLE_DTYPE_BOOL, {3}, F32x6.data());
  EXPECT_CONTAINS(std::string(Vec.begin(), Vec.end()),
                  "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }");
}

// numpy saves ml_dtypes arrays (float8, int4, bfloat16...) with a raw-byte
// descr that does not say which type they are: the model's dtype decides,
// if it is an ml_dtypes type of the same size.
TEST(NpyTest, RawBytesAdoptTheModelsMlDtype) {
  std::vector<uint8_t> Image = encodeNpy(NIBBLE_DTYPE_F8E4M3FN, {3}, "\x38\xb8\x40");
  EXPECT_CONTAINS(std::string(Image.begin(), Image.end()), "'descr': '|V1'");
  for (const char *Descr : {"'<V1'", "'|V1'", "'<f1'"}) {
    SCOPED_TRACE(Descr);
    std::string Text(Image.begin(), Image.end());
    Text.replace(Text.find("'|V1'"), 5, Descr);
    NpyArray Out;
    std::string Error;
    ASSERT_TRUE(parse(std::vector<uint8_t>(Text.begin(), Text.end()), Out, Error)) << Error;
    EXPECT_EQ(Out.itemSize(), 1u);
    EXPECT_EQ(Out.dtypeDescription(), "raw bytes ('|V1')");
    NpyArray Int4 = Out;
    EXPECT_TRUE(Int4.adoptDtype(NIBBLE_DTYPE_I4));
    EXPECT_EQ(Int4.Dtype, NIBBLE_DTYPE_I4);
    EXPECT_EQ(Int4.Bytes, (std::vector<uint8_t>{0x38, 0xb8, 0x40}));
    // Not a plain numpy dtype, nor an ml_dtypes type of another size.
    EXPECT_FALSE(NpyArray(Out).adoptDtype(NIBBLE_DTYPE_U8));
    EXPECT_FALSE(NpyArray(Out).adoptDtype(NIBBLE_DTYPE_BF16));
  }
  std::vector<uint8_t> Bf16 = encodeNpy(NIBBLE_DTYPE_BF16, {1}, "\x80\x3f");
  NpyArray Out;
  std::string Error;
  ASSERT_TRUE(parse(Bf16, Out, Error)) << Error;
  EXPECT_EQ(Out.RawItemSize, 2u);
  EXPECT_FALSE(NpyArray(Out).adoptDtype(NIBBLE_DTYPE_F16));
  EXPECT_TRUE(Out.adoptDtype(NIBBLE_DTYPE_BF16));
  // A typed array never changes type.
  NpyArray Typed;
  ASSERT_TRUE(parse(encodeNpy(NIBBLE_DTYPE_U8, {1}, "\1"), Typed, Error)) << Error;
  EXPECT_FALSE(Typed.adoptDtype(NIBBLE_DTYPE_F8E4M3FN));
}

TEST(NpyTest, SwitchesToVersion2ForHugeHeaders) {
  std::vector<int64_t> Shape(30000, 1);
  std::vector<uint8_t> Image = encodeNpy(NIBBLE_DTYPE_U8, Shape, "\7");
  EXPECT_EQ(Image[6], 2);
  NpyArray Out;
  std::string Error;
  ASSERT_TRUE(parse(Image, Out, Error)) << Error;
  EXPECT_EQ(Out.Shape, Shape);
  EXPECT_EQ(Out.Bytes, std::vector<uint8_t>{7});
}

TEST(NpyTest, ReadsVersions2And3AndHeaderVariants) {
  const char *Dicts[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      "{\"shape\": (2,3), \"descr\": \"<f4\", \"fortran_order\": False}",
      "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2L , 3L ) }",
  };
  for (uint8_t Major : {1, 2, 3})
    for (const char *Dict : Dicts) {
      SCOPED_TRACE(std::to_string(Major) + ": " + Dict);
      NpyArray Out;
      std::string Error;
      ASSERT_TRUE(parse(makeNpy(Dict, F32x6, Major), Out, Error)) << Error;
      EXPECT_EQ(Out.Dtype, NIBBLE_DTYPE_F32);
      EXPECT_EQ(Out.Shape, (std::vector<int64_t>{2, 3}));
      EXPECT_EQ(Out.Bytes.size(), 24u);
    }
  // Byte order does not matter for one-byte types.
  NpyArray Out;
  std::string Error;
  ASSERT_TRUE(parse(makeNpy("{'descr': '<u1', 'fortran_order': False, "
                            "'shape': (2,)}",
                            "ab"),
                    Out, Error))
      << Error;
  EXPECT_EQ(Out.Dtype, NIBBLE_DTYPE_U8);
}

TEST(NpyTest, RejectsFilesThatAreNotNpy) {
  EXPECT_CONTAINS(parseError({}), "not a .npy file");
  EXPECT_CONTAINS(parseError(bytesOf("hello world")), "not a .npy file");
  EXPECT_CONTAINS(parseError(bytesOf(std::string("\x93NUMPY\x04\x00", 8))),
                  "version 4.0");
  EXPECT_CONTAINS(parseError(bytesOf(std::string("\x93NUMPY\x01\x01", 8))),
                  "version 1.1");
  EXPECT_CONTAINS(parseError(bytesOf(std::string("\x93NUMPY\x01\x00\x10", 9))),
                  "truncated inside its header");
  EXPECT_CONTAINS(
      parseError(bytesOf(std::string("\x93NUMPY\x01\x00\x50\x00{'descr'", 17))),
      "truncated inside its header");
}

TEST(NpyTest, RejectsMalformedHeaders) {
  const char *Dicts[] = {
      "",
      "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
      "{'descr': '<f4', 'fortran_order': False}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
      "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3.0)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
      "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x",
      "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
      ("{'descr': '<f4', 'fortran_order': False, 'shape': "
       "(99999999999999999999,)}"),
  };
  for (const char *Dict : Dicts) {
    SCOPED_TRACE(Dict);
    EXPECT_CONTAINS(parseError(makeNpy(Dict, F32x6)), "malformed .npy header");
  }
}

TEST(NpyTest, RejectsUnsupportedLayoutsAndDtypes) {
  auto header = [](const std::string &Descr, bool Fortran) {
    return "{'descr': '" + Descr +
           "', 'fortran_order': " + (Fortran ? "True" : "False") +
           ", 'shape': (2, 3), }";
  };
  EXPECT_CONTAINS(parseError(makeNpy(header("<f4", true), F32x6)),
                  "is in Fortran order; save numpy.ascontiguousarray");
  EXPECT_CONTAINS(parseError(makeNpy(header(">f4", false), F32x6)),
                  "big-endian data ('>f4'); save arr.astype('<f4')");
  EXPECT_CONTAINS(parseError(makeNpy(header(">i8", false), F32x6)),
                  "big-endian");
  for (const char *Descr : {"<c8", "|O", "<U3", "", "=f4", "|i4", "<f16"})
    EXPECT_CONTAINS(parseError(makeNpy(header(Descr, false), F32x6)),
                    "', which is not supported; save it as float16/32/64");
}

TEST(NpyTest, RejectsWrongDataSizes) {
  std::string Dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}";
  EXPECT_CONTAINS(parseError(makeNpy(Dict, F32x6.substr(4))),
                  "truncated: shape (2, 3) of float32 needs 24 data bytes but "
                  "only 20 follow the header");
  EXPECT_CONTAINS(parseError(makeNpy(Dict, "")), "truncated");
  EXPECT_CONTAINS(parseError(makeNpy(Dict, F32x6 + "xx")),
                  "2 unexpected bytes after the array data");
  EXPECT_CONTAINS(
      parseError(makeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': "
                         "(4294967296, 4294967296)}",
                         "")),
      "impossibly large shape");
}

TEST(NpyTest, ControlCharactersInErrorsStayOnOneLine) {
  NpyArray Out;
  std::string Error;
  EXPECT_FALSE(parseNpy(nullptr, 0, "a\nb.npy", Out, Error));
  EXPECT_CONTAINS(Error, "'a?b.npy'");
}

class NpyFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    Dir = ::testing::TempDir() + "nibble-npy-" + std::to_string(getpid());
    std::filesystem::create_directories(Dir);
  }
  void TearDown() override { std::filesystem::remove_all(Dir); }
  std::string Dir;
};

TEST_F(NpyFileTest, WritesAndReadsFiles) {
  NpyArray In;
  In.Dtype = NIBBLE_DTYPE_I32;
  In.Shape = {2, 2};
  In.Bytes.assign(16, 0);
  In.Bytes[4] = 9;
  std::string Error;
  ASSERT_TRUE(writeNpy(Dir + "/a.npy", In, Error)) << Error;
  NpyArray Out;
  ASSERT_TRUE(readNpy(Dir + "/a.npy", Out, Error)) << Error;
  EXPECT_EQ(Out.Dtype, In.Dtype);
  EXPECT_EQ(Out.Shape, In.Shape);
  EXPECT_EQ(Out.Bytes, In.Bytes);
}

TEST_F(NpyFileTest, ReportsFileErrors) {
  NpyArray Out;
  std::string Error;
  EXPECT_FALSE(readNpy(Dir + "/missing.npy", Out, Error));
  EXPECT_CONTAINS(Error, "cannot open '" + Dir +
                             "/missing.npy': No such file or directory");
  EXPECT_FALSE(readNpy(Dir, Out, Error));
  EXPECT_CONTAINS(Error, "cannot read '" + Dir + "'");
  EXPECT_FALSE(
      writeNpy(Dir + "/no/such/dir/a.npy", NIBBLE_DTYPE_U8, {1}, "x", Error));
  EXPECT_CONTAINS(Error, "cannot create '" + Dir + "/no/such/dir/a.npy'");
}

} // namespace
