//===- CmdCompile.cpp - `mixq compile PKG [--emit=KIND] [-o FILE]` --------===//
//
// Builds the MLIR module of a package (codegen/Llama/GraphBuilder.h) and
// prints it (--emit=mlir) to stdout or, atomically (temporary name, then
// rename), to -o FILE. The later stages (--emit=llvm|asm|obj|ptx and the
// default, a shared library) arrive with issues 6 and 7.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"

#include "codegen/Llama/GraphBuilder.h"
#include "model/Package.h"

#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace mixq;
using namespace mixq::cli;

namespace {

cl::SubCommand compileCommand("compile",
                              "Compile a package for this CPU or an NVIDIA "
                              "GPU");
cl::opt<std::string> packagePath(cl::Positional, cl::desc("<package>"),
                                 cl::Required, cl::sub(compileCommand),
                                 cl::cat(category()));
cl::opt<std::string> emitKind("emit",
                              cl::desc("What to write: mlir | llvm | asm | "
                                       "obj | ptx (default: a shared library)"),
                              cl::init(""), cl::sub(compileCommand),
                              cl::cat(category()));
cl::opt<std::string> outputPath("o", cl::desc("Output file (default: stdout)"),
                                cl::init("-"), cl::sub(compileCommand),
                                cl::cat(category()));

int runCompile() {
  bool known = StringSwitch<bool>(emitKind)
                   .Cases({"", "mlir", "llvm", "asm", "obj", "ptx"}, true)
                   .Default(false);
  if (!known) {
    WithColor::error(errs(), "mixq")
        << "unknown --emit value '" << emitKind
        << "' (mlir, llvm, asm, obj or ptx)\n";
    return UsageError;
  }
  if (emitKind != "mlir") {
    WithColor::error(errs(), "mixq")
        << "compile --emit=" << (emitKind.empty() ? "so" : emitKind.getValue())
        << " is not implemented yet (issue 6/7)\n";
    return UsageError;
  }

  auto package = PackageReader::open(packagePath);
  if (!package)
    return fail(package.takeError());
  mlir::MLIRContext context;
  auto module = buildLlamaModule(context, **package);
  if (!module)
    return fail(module.takeError());
  if (Error e = writeToOutput(outputPath, [&](raw_ostream &os) {
        (*module)->print(os);
        os << "\n";
        return Error::success();
      }))
    return fail(std::move(e));
  return Success;
}

CommandRegistration registration(compileCommand, runCompile);

} // namespace
