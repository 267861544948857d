//===- LayoutAttrTest.cpp - #mixq.layout <-> mixq::Layout -----------------===//
//
// The attribute and the plain C++ layout convert losslessly both ways, and
// the parsed text, the attribute and the plain layout agree on storage.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

using namespace mixq;

namespace {

class LayoutAttrTest : public ::testing::Test {
protected:
  LayoutAttrTest() { context.getOrLoadDialect<MixQDialect>(); }
  mlir::MLIRContext context;
};

const char *const forms[] = {
    "#mixq.layout<dense, bits = 16>",
    "#mixq.layout<uniform, bits = 4, group = 128>",
    "#mixq.layout<uniform, bits = 3, group = 64, asym, scales = <4, 256>>",
    "#mixq.layout<mixed, bits = [2, 4, 16], group = 64, tile = 16, alloc = "
    "[3600, 400, 96], asym, scales = <4, 256>, outliers = slots<1>>",
    "#mixq.layout<lut, bits = 3, outliers = csr<8389>>",
    "#mixq.layout<quik, bits = 4, fp16_cols = 256, act = <4, per_token, "
    "asym>>",
};

} // namespace

TEST_F(LayoutAttrTest, TextAttributeAndLayoutRoundTrip) {
  for (const char *text : forms) {
    SCOPED_TRACE(text);
    mlir::Attribute parsed = mlir::parseAttribute(text, &context);
    auto attr = llvm::dyn_cast_or_null<LayoutAttr>(parsed);
    ASSERT_TRUE(attr);
    Layout layout = attr.toLayout();
    EXPECT_EQ(LayoutAttr::get(&context, layout), attr);
    std::string printed;
    llvm::raw_string_ostream os(printed);
    mlir::Attribute(attr).print(os);
    EXPECT_EQ(printed, text);
    // JSON (package metadata) -> Layout -> attribute is the same attribute.
    llvm::Expected<Layout> fromJson = layoutFromJSON(layoutToJSON(layout));
    ASSERT_TRUE(bool(fromJson));
    EXPECT_EQ(LayoutAttr::get(&context, *fromJson), attr);
  }
}

TEST_F(LayoutAttrTest, QWeightStorageAgreesWithTheLayout) {
  auto attr = llvm::cast<LayoutAttr>(mlir::parseAttribute(forms[3], &context));
  auto type = QWeightType::get(&context, {4096, 1024}, attr);
  llvm::Expected<StorageBits> direct =
      storageBits(attr.toLayout(), 4096, 1024);
  ASSERT_TRUE(bool(direct));
  EXPECT_EQ(type.getStorageBits().total(), direct->total());
  EXPECT_DOUBLE_EQ(type.getBitsPerWeight(),
                   double(direct->total()) / (4096.0 * 1024.0));
  llvm::Expected<StorageBits> viaAttr = attr.getStorageBits({4096, 1024});
  ASSERT_TRUE(bool(viaAttr));
  EXPECT_EQ(viaAttr->total(), direct->total());
  // A shape that is not 2-D is refused, not crashed on.
  llvm::Expected<StorageBits> bad = attr.getStorageBits({4096});
  EXPECT_FALSE(bool(bad));
  llvm::consumeError(bad.takeError());
}

TEST_F(LayoutAttrTest, VerifierMessagesComeFromTheLayoutRules) {
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str();
    return mlir::success();
  });
  mlir::Attribute bad =
      mlir::parseAttribute("#mixq.layout<lut, bits = 3, asym>", &context);
  EXPECT_FALSE(bad);
  EXPECT_NE(diagnostics.find("'lut' layouts are symmetric"),
            std::string::npos)
      << diagnostics;
}
