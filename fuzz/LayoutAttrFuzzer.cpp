//===- LayoutAttrFuzzer.cpp - Fuzz target: #mixq.layout / !mixq.qweight ---===//
//
// Input: MLIR text. Parses it as an attribute and as a type with the mixq
// dialect loaded (mlir::parseAttribute / mlir::parseType, diagnostics
// swallowed). A mixq attribute or type that parses must print to text that parses back to the same
// attribute or type, and a #mixq.layout must agree with model/Layout.cpp
// (verifyLayout accepts it); anything else aborts. The context is replaced
// every few thousand inputs, since it keeps every attribute it uniqued.
//
//===----------------------------------------------------------------------===//
#include "dialect/MixQDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

struct Context {
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  mlir::ScopedDiagnosticHandler quiet{
      &context, [](mlir::Diagnostic &) { return mlir::success(); }};
  Context() { context.loadDialect<mixq::MixQDialect>(); }
};

[[noreturn]] void fail(const char *what, const std::string &text) {
  std::fprintf(stderr, "mixq-fuzz: %s: %s\n", what, text.c_str());
  std::abort();
}

template <typename T>
std::string print(T value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  value.print(os);
  return text;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::unique_ptr<Context> ctx;
  static unsigned uses = 0;
  if (!ctx || ++uses % 4096 == 0)
    ctx = std::make_unique<Context>();
  mlir::MLIRContext *context = &ctx->context;
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);

  mlir::Attribute attr = mlir::parseAttribute(text, context);
  if (attr && llvm::isa<mixq::MixQDialect>(attr.getDialect())) {
    std::string printed = print(attr);
    if (mlir::parseAttribute(printed, context) != attr)
      fail("attribute does not round-trip", printed);
    if (auto layout = llvm::dyn_cast<mixq::LayoutAttr>(attr))
      if (llvm::Error e = mixq::verifyLayout(layout.toLayout()))
        fail("a parsed #mixq.layout fails verifyLayout",
             llvm::toString(std::move(e)));
  }
  mlir::Type type = mlir::parseType(text, context);
  if (type && llvm::isa<mixq::MixQDialect>(type.getDialect())) {
    std::string printed = print(type);
    if (mlir::parseType(printed, context) != type)
      fail("type does not round-trip", printed);
  }
  return 0;
}
