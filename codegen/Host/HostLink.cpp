//===- HostLink.cpp - ELF object bytes -> shared library ------------------===//
//
// linkSharedLibrary(): writes the objects to temporary files and runs
//
//   ld.lld -shared --no-undefined-version -o <outputPath>.tmp-XXXX <objects>
//
// with its output captured in another temporary file, then renames the
// library over outputPath. Undefined symbols are allowed (the default for
// -shared): libc/libm symbols such as expf and malloc are resolved by the
// process that dlopens the library. Every temporary is removed on all paths.
//
//===----------------------------------------------------------------------===//
#include "codegen/Host/HostCodegen.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mixq;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

#define MIXQ_STRINGIFY_IMPL(x) #x
#define MIXQ_STRINGIFY(x) MIXQ_STRINGIFY_IMPL(x)
constexpr const char *kLLVMMajor = MIXQ_STRINGIFY(LLVM_VERSION_MAJOR);
#undef MIXQ_STRINGIFY
#undef MIXQ_STRINGIFY_IMPL

/// $MIXQ_LLD, else ld.lld-<major> or ld.lld on PATH, else the Debian/Ubuntu
/// location /usr/lib/llvm-<major>/bin/ld.lld.
llvm::Expected<std::string> findLinker() {
  if (std::optional<std::string> fromEnv =
          llvm::sys::Process::GetEnv("MIXQ_LLD");
      fromEnv && !fromEnv->empty()) {
    if (llvm::StringRef(*fromEnv).contains('/'))
      return *fromEnv;
    if (llvm::ErrorOr<std::string> found =
            llvm::sys::findProgramByName(*fromEnv))
      return *found;
    return makeError("MIXQ_LLD names '" + *fromEnv + "', which is not on PATH");
  }
  for (const std::string &name :
       {"ld.lld-" + std::string(kLLVMMajor), std::string("ld.lld")})
    if (llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName(name))
      return *found;
  std::string fallback =
      "/usr/lib/llvm-" + std::string(kLLVMMajor) + "/bin/ld.lld";
  if (llvm::sys::fs::can_execute(fallback))
    return fallback;
  return makeError(llvm::Twine("cannot find ld.lld (looked for ld.lld-") +
                   kLLVMMajor + " and ld.lld on PATH and " + fallback +
                   "); set MIXQ_LLD to the linker's path");
}

/// Creates a temporary file holding `bytes`; the caller removes it.
llvm::Error writeTemporaryFile(llvm::StringRef prefix, llvm::StringRef suffix,
                               llvm::StringRef bytes,
                               llvm::SmallVectorImpl<char> &path,
                               llvm::FileRemover &remover) {
  int fd = -1;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile(prefix, suffix, fd, path))
    return makeError("cannot create a temporary file: " + ec.message());
  remover.setFile(path);
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  os << bytes;
  os.close();
  if (os.has_error()) {
    std::string message = os.error().message();
    os.clear_error();
    return makeError("cannot write " + llvm::Twine(path) + ": " + message);
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error mixq::linkSharedLibrary(llvm::StringRef object,
                                    llvm::StringRef outputPath) {
  return linkSharedLibraryFromObjects(
      llvm::ArrayRef<std::string>{object.str()}, outputPath);
}

llvm::Error
mixq::linkSharedLibraryFromObjects(llvm::ArrayRef<std::string> objects,
                                   llvm::StringRef outputPath) {
  llvm::Expected<std::string> linker = findLinker();
  if (!linker)
    return linker.takeError();

  std::vector<llvm::SmallString<128>> objectPaths(objects.size());
  std::vector<llvm::FileRemover> objectRemovers(objects.size());
  for (size_t i = 0; i < objects.size(); ++i)
    if (llvm::Error error =
            writeTemporaryFile("mixq-host", "o", objects[i], objectPaths[i],
                               objectRemovers[i]))
      return error;

  llvm::SmallString<128> logPath;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("mixq-lld", "log", logPath))
    return makeError("cannot create a temporary file: " + ec.message());
  llvm::FileRemover logRemover(logPath);

  // Next to outputPath so that the final rename stays on one file system.
  llvm::SmallString<128> libraryPath;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          outputPath + ".tmp-%%%%%%%%", libraryPath))
    return makeError("cannot create a temporary file next to " + outputPath +
                     ": " + ec.message());
  llvm::FileRemover libraryRemover(libraryPath);

  llvm::SmallVector<llvm::StringRef, 16> args = {
      *linker, "-shared", "--no-undefined-version", "-o", libraryPath};
  for (const llvm::SmallString<128> &path : objectPaths)
    args.push_back(path);
  // stdout and stderr both go to the log (LLVM shares one descriptor when
  // the two paths are equal); stdin is /dev/null.
  std::optional<llvm::StringRef> redirects[] = {
      llvm::StringRef(""), llvm::StringRef(logPath), llvm::StringRef(logPath)};
  std::string runError;
  bool executionFailed = false;
  int status = llvm::sys::ExecuteAndWait(
      *linker, args, /*Env=*/std::nullopt, redirects, /*SecondsToWait=*/0,
      /*MemoryLimit=*/0, &runError, &executionFailed);
  if (executionFailed || status < 0)
    return makeError("cannot run the linker " + *linker + ": " +
                     (runError.empty() ? "unknown error" : runError));
  if (status != 0) {
    std::string log;
    if (llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
            llvm::MemoryBuffer::getFile(logPath))
      log = llvm::StringRef((*buffer)->getBuffer()).trim().str();
    return makeError("linking " + outputPath + " failed (" + *linker +
                     " exited with " + llvm::Twine(status) +
                     "): " + (log.empty() ? "no output" : log));
  }

  if (std::error_code ec = llvm::sys::fs::rename(libraryPath, outputPath))
    return makeError("cannot rename " + libraryPath + " to " + outputPath +
                     ": " + ec.message());
  libraryRemover.releaseFile();
  return llvm::Error::success();
}
