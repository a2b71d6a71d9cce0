//===- QuantMathTest.cpp - scalar quantization rules and scheme helpers ---===//

#include "nibble/Dialect/Nibble/IR/NibbleDialect.h"
#include "nibble/Dialect/Nibble/IR/QuantMath.h"
#include "nibble/Dialect/Nibble/Utils/ConstantUtils.h"
#include "nibble/Dialect/Nibble/Utils/WeightPacking.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::nibble;

TEST(QuantizeScalar, RoundsHalfToEven) {
  // ONNX QuantizeLinear rounds ties to even, not away from zero.
  EXPECT_EQ(quantizeScalar(0.5f, 1.0f, 0, -128, 127), 0);
  EXPECT_EQ(quantizeScalar(1.5f, 1.0f, 0, -128, 127), 2);
  EXPECT_EQ(quantizeScalar(2.5f, 1.0f, 0, -128, 127), 2);
  EXPECT_EQ(quantizeScalar(-2.5f, 1.0f, 0, -128, 127), -2);
  EXPECT_EQ(quantizeScalar(-3.5f, 1.0f, 0, -128, 127), -4);
}

TEST(QuantizeScalar, DividesThenAddsZeroPointThenSaturates) {
  EXPECT_EQ(quantizeScalar(3.0f, 0.5f, 10, 0, 255), 16);
  EXPECT_EQ(quantizeScalar(1000.0f, 1.0f, 0, -128, 127), 127);
  EXPECT_EQ(quantizeScalar(-1000.0f, 1.0f, 0, -128, 127), -128);
  EXPECT_EQ(quantizeScalar(-1.0f, 1.0f, 0, 0, 255), 0);
  EXPECT_EQ(quantizeScalar(9.0f, 1.0f, 0, -8, 7), 7);
  EXPECT_EQ(quantizeScalar(std::numeric_limits<float>::infinity(), 1.0f, 0, -8, 7), 7);
}

TEST(DequantizeScalar, SubtractsZeroPointThenScales) {
  EXPECT_FLOAT_EQ(dequantizeScalar(130, 0.25f, 128), 0.5f);
  EXPECT_FLOAT_EQ(dequantizeScalar(-8, 2.0f, 0), -16.0f);
}

TEST(DecodeStorage, ReadsBitsAsSignedOrUnsigned) {
  EXPECT_EQ(decodeStorage(0xF, 4, /*isSigned=*/true), -1);
  EXPECT_EQ(decodeStorage(0xF, 4, /*isSigned=*/false), 15);
  EXPECT_EQ(decodeStorage(0x8, 4, true), -8);
  EXPECT_EQ(decodeStorage(0x80, 8, true), -128);
  EXPECT_EQ(decodeStorage(0x80, 8, false), 128);
  EXPECT_EQ(decodeStorage(0xFFFFFFFFFFFFFFFFull, 64, true), -1);
}

class SchemeTest : public ::testing::Test {
protected:
  SchemeTest() { context.loadDialect<NibbleDialect>(); }
  SchemeAttr scheme(unsigned bits, bool isSigned, Granularity granularity,
                    int64_t axis = 0, int64_t groupSize = 0, bool zeroPoint = false) {
    return SchemeAttr::get(&context, bits, isSigned, granularity, axis, groupSize,
                           zeroPoint, cast<FloatType>(Float32Type::get(&context)));
  }
  MLIRContext context;
};

TEST_F(SchemeTest, StorageRanges) {
  EXPECT_EQ(scheme(4, true, Granularity::PerTensor).getQMin(), -8);
  EXPECT_EQ(scheme(4, true, Granularity::PerTensor).getQMax(), 7);
  EXPECT_EQ(scheme(4, false, Granularity::PerTensor).getQMax(), 15);
  EXPECT_EQ(scheme(8, false, Granularity::PerTensor).getQMax(), 255);
  EXPECT_EQ(scheme(8, true, Granularity::PerTensor).getQMin(), -128);
}

TEST_F(SchemeTest, ScaleShapes) {
  EXPECT_TRUE(scheme(8, true, Granularity::PerTensor).getScaleShape({4, 6}).empty());
  EXPECT_EQ(scheme(8, true, Granularity::PerChannel, 1).getScaleShape({4, 6}),
            (SmallVector<int64_t>{6}));
  // Groups round up: 300 rows in groups of 128 need 3 scales per column.
  EXPECT_EQ(scheme(4, true, Granularity::PerGroup, 0, 128).getScaleShape({300, 64}),
            (SmallVector<int64_t>{3, 64}));
}

TEST_F(SchemeTest, ShortNames) {
  EXPECT_EQ(scheme(8, true, Granularity::PerChannel, 1).getShortName(), "int8");
  EXPECT_EQ(scheme(4, false, Granularity::PerGroup, 0, 32, true).getShortName(),
            "uint4-g32");
}

TEST_F(SchemeTest, VerifierRejectsBadParameters) {
  auto check = [&](unsigned bits, Granularity g, int64_t axis, int64_t groupSize) {
    return SchemeAttr::getChecked([&] { return emitError(UnknownLoc::get(&context)); },
                                  &context, bits, true, g, axis, groupSize, false,
                                  cast<FloatType>(Float32Type::get(&context)));
  };
  context.getDiagEngine().registerHandler([](Diagnostic &) { return success(); });
  EXPECT_FALSE(check(3, Granularity::PerTensor, 0, 0));
  EXPECT_FALSE(check(4, Granularity::PerGroup, 0, 1));
  EXPECT_FALSE(check(4, Granularity::PerChannel, -1, 0));
  EXPECT_FALSE(check(4, Granularity::PerChannel, 0, 32));
  EXPECT_TRUE(check(4, Granularity::PerGroup, 0, 32));
}

TEST_F(SchemeTest, Int4ConstantsRoundTrip) {
  auto type = RankedTensorType::get({2, 3}, IntegerType::get(&context, 4));
  SmallVector<int64_t> values{-8, -1, 0, 1, 7, 3};
  ElementsAttr attr = makeIntConstant(type, values, "w");
  std::optional<SmallVector<int64_t>> signedValues = readIntElements(attr, true);
  ASSERT_TRUE(signedValues);
  EXPECT_EQ(*signedValues, values);
  std::optional<SmallVector<int64_t>> unsignedValues = readIntElements(attr, false);
  ASSERT_TRUE(unsignedValues);
  EXPECT_EQ((*unsignedValues)[0], 8);
  EXPECT_EQ((*unsignedValues)[1], 15);
}

TEST_F(SchemeTest, FloatWeightsBecomeResources) {
  auto type = RankedTensorType::get({8, 4}, Float32Type::get(&context));
  SmallVector<float> values(32);
  for (int i = 0; i < 32; ++i)
    values[i] = 0.5f * i;
  ElementsAttr attr = makeFloatConstant(type, values, "w");
  EXPECT_TRUE(isa<DenseResourceElementsAttr>(attr));
  std::optional<SmallVector<float>> read = readFloatElements(attr);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, values);
}

TEST(WeightPacking, Int4TwoPerByteAlongKInColumnTiles) {
  // K = 3 (odd), N = 3 in tiles of 2 columns: rows 0 and 1 share a byte,
  // row 2 sits alone; column 2 starts the second tile, padded to 2 columns.
  SmallVector<int64_t> values{1, -1, 2,  //
                              -8, 7, 3,  //
                              5, -2, -1};
  SmallVector<uint8_t> packed = packInColumnTiles(values, 3, 3, 4, 2);
  ASSERT_EQ(packed.size(), 2u * 2u * 2u); // tiles x byte rows x tile width
  EXPECT_EQ(packed[0], 0x81); // tile 0, byte row 0: 1 low, -8 (0x8) high
  EXPECT_EQ(packed[1], 0x7F); // -1 = 0xF low, 7 high
  EXPECT_EQ(packed[2], 0x05); // byte row 1: row 2 only
  EXPECT_EQ(packed[3], 0x0E);
  EXPECT_EQ(packed[4], 0x32); // tile 1: column 2
  EXPECT_EQ(packed[5], 0x00); // padding column
  EXPECT_EQ(packed[6], 0x0F);
  EXPECT_EQ(packed[7], 0x00);
  // Unpacking with the lowering's rule gives the values back.
  for (int64_t row = 0; row < 3; ++row)
    for (int64_t col = 0; col < 3; ++col) {
      uint8_t byte = packed[((col / 2) * 2 + row / 2) * 2 + col % 2];
      EXPECT_EQ(decodeStorage(byte >> (4 * (row % 2)), 4, true), values[row * 3 + col]);
    }
}

TEST(WeightPacking, Int4WordsAlongKInColumnTiles) {
  // K = 16, N = 3 in tiles of 2 columns: 2 tiles x 2 word rows x 2 words;
  // column 2 starts the second tile, whose second column is padding.
  int64_t k = 16, n = 3;
  SmallVector<int64_t> values(k * n);
  for (int64_t i = 0; i < k * n; ++i)
    values[i] = (i * 5) % 16 - 8;
  SmallVector<uint32_t> packed = packInt4WordsInColumnTiles(values, k, n, 2);
  ASSERT_EQ(packed.size(), 2u * 2u * 2u);
  // Column 0, rows 0..7: values[0], values[3], ... in nibbles 0..7.
  uint32_t expected = 0;
  for (int64_t e = 0; e < 8; ++e)
    expected |= static_cast<uint32_t>(values[e * n] & 0xF) << (4 * e);
  EXPECT_EQ(packed[0], expected);
  EXPECT_EQ(packed[7], 0u); // tile 1, word row 1, padding column
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      uint32_t word = packed[((col / 2) * 2 + row / 8) * 2 + col % 2];
      EXPECT_EQ(decodeStorage((word >> (4 * (row % 8))) & 0xF, 4, true), values[row * n + col]);
    }
}

TEST(WeightPacking, Int8InColumnTiles) {
  SmallVector<int64_t> values{1, -1, 2, -128, 127, 3};  // K = 2, N = 3
  SmallVector<uint8_t> packed = packInColumnTiles(values, 2, 3, 8, 2);
  EXPECT_EQ(packed, (SmallVector<uint8_t>{0x01, 0xFF, 0x80, 0x7F, 0x02, 0x00, 0x03, 0x00}));
}

TEST(WeightPacking, Int8ForDotProducts) {
  // K = 5, N = 17: 2 column vectors x 2 groups of 4 rows x 64 bytes; byte
  // (v, q, 4 c + j) is row 4 q + j of column 16 v + c, padding 0.
  int64_t k = 5, n = 17;
  SmallVector<int64_t> values(k * n);
  for (int64_t i = 0; i < k * n; ++i)
    values[i] = (i * 37) % 256 - 128;
  SmallVector<int8_t> packed = packForInt8Dot(values, k, n);
  ASSERT_EQ(packed.size(), 2u * 2u * 64u);
  for (int64_t v = 0; v < 2; ++v)
    for (int64_t q = 0; q < 2; ++q)
      for (int64_t c = 0; c < 16; ++c)
        for (int64_t j = 0; j < 4; ++j) {
          int64_t row = 4 * q + j, col = 16 * v + c;
          int64_t want = row < k && col < n ? values[row * n + col] : 0;
          EXPECT_EQ(packed[(v * 2 + q) * 64 + 4 * c + j], want) << row << "," << col;
        }
}

TEST(WeightPacking, Int4ForDotProductsAsUnsignedNibbles) {
  // K = 5, N = 35: two column pairs x 2 quads of rows; column 32 p + c in
  // the low nibble of byte 4 c + j (row 4 q + j), column 32 p + 16 + c in
  // its high nibble, each as q + 8; rows and columns past the weight hold
  // q = 0 (nibble 8).
  int64_t k = 5, n = 35;
  SmallVector<int64_t> values(k * n);
  for (int64_t i = 0; i < k * n; ++i)
    values[i] = i % 16 - 8;
  SmallVector<int8_t> packed = packInt4ForInt8Dot(values, k, n);
  ASSERT_EQ(packed.size(), 2u * 2u * 64u);
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t q = 0; q < 2; ++q)
      for (int64_t c = 0; c < 32; ++c)
        for (int64_t j = 0; j < 4; ++j) {
          int64_t row = 4 * q + j, col = 32 * p + c;
          int64_t want = row < k && col < n ? values[row * n + col] : 0;
          uint8_t byte = static_cast<uint8_t>(packed[(p * 2 + q) * 64 + 4 * (c % 16) + j]);
          int64_t nibble = c < 16 ? byte & 0xF : byte >> 4;
          EXPECT_EQ(nibble - 8, want) << row << "," << col;
        }
}

TEST(QuantizeScalar, NaNSaturatesToQMin) {
  // Matches the generated code's maxnum(NaN, qmin).
  EXPECT_EQ(quantizeScalar(std::nanf(""), 1.0f, 3, -128, 127), -128);
  EXPECT_EQ(quantizeScalar(std::nanf(""), 1.0f, 128, 0, 255), 0);
}
