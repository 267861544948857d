//===- TextOutput.h - Printing generated text -------------------*- C++ -*-===//
//
// Shared by `generate` and `run`: a decoded piece goes out as soon as it is
// known; a lone control byte (other than whitespace) is dropped, as llama2.c
// does, so byte-fallback tokens cannot corrupt a terminal.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_TOOLS_MIXQ_TEXTOUTPUT_H
#define MIXQ_TOOLS_MIXQ_TEXTOUTPUT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>

namespace mixq::cli {

inline void printPiece(llvm::StringRef piece, llvm::raw_ostream &os) {
  if (piece.size() == 1) {
    unsigned char c = piece[0];
    if (c < 0x80 && !std::isprint(c) && !std::isspace(c))
      return;
  }
  os << piece;
  os.flush();
}

} // namespace mixq::cli

#endif // MIXQ_TOOLS_MIXQ_TEXTOUTPUT_H
