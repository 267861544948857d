//===- Command.h - Subcommand registry of the mixq CLI ----------*- C++ -*-===//
//
// Each subcommand lives in its own Cmd<Name>.cpp: it declares an
// llvm::cl::SubCommand, its options (cl::sub(thatSubCommand)), a run function
// returning the process exit code, and one static CommandRegistration. Main.cpp
// parses the command line and calls the run function of the chosen command.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_COMMAND_H
#define MIXQ_TOOLS_MIXQ_COMMAND_H

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace mixq::cli {

/// The option category of every mixq option (others are hidden from --help).
llvm::cl::OptionCategory &category();

struct Command {
  llvm::cl::SubCommand *sub;
  int (*run)();
};

/// All commands registered so far (in static-initialization order).
std::vector<Command> &registeredCommands();

struct CommandRegistration {
  CommandRegistration(llvm::cl::SubCommand &sub, int (*run)()) {
    registeredCommands().push_back({&sub, run});
  }
};

/// Exit codes shared by every command.
enum ExitCode : int { Success = 0, Failure = 1, UsageError = 2 };

/// Prints `error` as one line "mixq: error: <file>: <reason>" on stderr and
/// returns Failure, the exit code of every command that fails on its input.
int fail(llvm::Error error);

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_COMMAND_H
