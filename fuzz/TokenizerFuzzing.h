//===- TokenizerFuzzing.h - What the tokenizer targets do with a vocab -*- C++ -*-===//
//
// Shared by the two tokenizer targets: once a vocabulary loads, encode a few
// fixed texts (ASCII, multi-byte UTF-8, invalid UTF-8, an empty string) and
// the input's own first bytes, and decode every result, so the merge loop,
// byte fallback and decoding run on the hostile vocabulary too.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_FUZZ_TOKENIZERFUZZING_H
#define MIXQ_FUZZ_TOKENIZERFUZZING_H

#include "model/Tokenizer.h"

#include <cstdlib>

namespace mixq::fuzz {

inline void exerciseTokenizer(const Tokenizer &t, llvm::StringRef input) {
  const llvm::StringRef texts[] = {
      "Once upon a time, there was a little girl.", "",
      " leading  spaces\tand\nnewlines ", "h\xC3\xA9llo w\xC3\xB6rld \xF0\x9F\x98\x80",
      "\xFF\xFE invalid \xC3 utf-8 \xE2\x82", "<s></s><unk><0x41>",
      input.take_front(256)};
  for (llvm::StringRef text : texts)
    for (bool bos : {false, true}) {
      std::vector<int> ids = t.encode(text, bos, /*eos=*/bos);
      for (int id : ids)
        if (id < 0 || id >= t.vocabSize())
          std::abort(); // an id the model cannot embed
      (void)t.decode(ids);
      for (size_t i = 1; i < ids.size(); ++i)
        (void)t.decodeToken(ids[i - 1], ids[i]);
    }
  for (int id : {-1, 0, 1, 2, 3, t.vocabSize() - 1, t.vocabSize()})
    (void)t.decodeToken(t.bosId(), id);
}

} // namespace mixq::fuzz

#endif // MIXQ_FUZZ_TOKENIZERFUZZING_H
