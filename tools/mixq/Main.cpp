//===- Main.cpp - Entry point and dispatcher of the mixq CLI --------------===//
//
// `mixq <command> [options]`. Commands register themselves (Command.h); the
// ones whose issue has not landed yet answer "not implemented yet" (exit 2).
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"

#include "model/MappedFile.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

using namespace llvm;
using namespace mixq::cli;

cl::OptionCategory &mixq::cli::category() {
  static cl::OptionCategory c("mixq options");
  return c;
}

int mixq::cli::fail(Error error) {
  // One line, whatever a file name or a name from a file holds.
  WithColor::error(errs(), "mixq")
      << mixq::printableText(toString(std::move(error))) << "\n";
  return Failure;
}

std::vector<Command> &mixq::cli::registeredCommands() {
  static std::vector<Command> commands;
  return commands;
}

namespace {
/// Every command the product has, with the line --help shows for it.
struct KnownCommand {
  const char *name;
  const char *description;
};
const KnownCommand knownCommands[] = {
    {"fetch", "Download a model (stories15M) or text (kjv) into the cache"},
    {"quantize", "Quantize a checkpoint into a mixq package"},
    {"inspect", "Print the config, tensors and layouts of a checkpoint or "
                "package"},
    {"compile", "Compile a package for this CPU or an NVIDIA GPU"},
    {"run", "Run a compiled module on a prompt"},
    {"generate", "Generate text with the fp32 reference engine"},
    {"ppl", "Measure perplexity on a text file"},
    {"bench", "Benchmark kernels and end-to-end decode"},
};
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);

  // Placeholders for the commands that no Cmd*.cpp implements yet.
  std::vector<std::unique_ptr<cl::SubCommand>> placeholders;
  for (const KnownCommand &known : knownCommands) {
    bool implemented = false;
    for (const Command &c : registeredCommands())
      implemented |= c.sub->getName() == known.name;
    if (!implemented)
      placeholders.push_back(
          std::make_unique<cl::SubCommand>(known.name, known.description));
  }

  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "mixq " MIXQ_VERSION " (MLIR/LLVM " LLVM_VERSION_STRING ")\n";
  });
  for (cl::SubCommand *sub : cl::getRegisteredSubcommands())
    cl::HideUnrelatedOptions(category(), *sub);
  cl::ParseCommandLineOptions(
      argc, argv,
      "mixq: compile quantized Llama models for CPUs and NVIDIA GPUs\n\n"
      "  mixq <command> --help   shows one command's options\n");

  for (const Command &c : registeredCommands())
    if (*c.sub)
      return c.run();
  for (const auto &p : placeholders)
    if (*p) {
      WithColor::error(errs(), "mixq")
          << "'" << p->getName() << "' is not implemented yet\n";
      return UsageError;
    }
  WithColor::error(errs(), "mixq")
      << "no command given; run 'mixq --help' for the list\n";
  return UsageError;
}
