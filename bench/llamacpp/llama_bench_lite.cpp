// llama_bench_lite.cpp - the part of llama.cpp's llama-bench that
// `mixq bench --llama-bench` runs (-m, -t, -p, -n, -r, -o json), for builds
// of llama.cpp's library without its tools (bench/llamacpp/README.md).
// Protocol as llama-bench's: per test one warm-up, then -r repetitions on a
// cleared KV cache; pp: one batch of P tokens (BOS, then random ids); tg:
// N single-token decodes from BOS with random ids; tokens/s per repetition,
// their mean and standard deviation printed as llama-bench's JSON array.
// `gen` instead prints a greedy continuation of -p TEXT (a sanity check
// that the converted GGUF reads as the model).
#include "llama.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void quiet(lm_ggml_log_level, const char *, void *) {}

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int usage() {
  std::fprintf(stderr,
               "usage: llama_bench_lite -m GGUF [-t THREADS] [-p TOKENS] "
               "[-n TOKENS] [-r REPS] [-o json]\n"
               "       llama_bench_lite gen -m GGUF [-p TEXT] [-n TOKENS]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string model, text = "Once upon a time";
  int threads = 2, prompt = 512, gen = 128, reps = 5;
  bool generate = argc > 1 && !std::strcmp(argv[1], "gen");
  for (int i = generate ? 2 : 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return usage();
    const char *v = argv[++i];
    if (a == "-m") model = v;
    else if (a == "-t") threads = std::atoi(v);
    else if (a == "-p" && generate) text = v;
    else if (a == "-p") prompt = std::atoi(v);
    else if (a == "-n") gen = std::atoi(v);
    else if (a == "-r") reps = std::atoi(v);
    else if (a == "-o" && !std::strcmp(v, "json")) continue;
    else return usage();
  }
  if (model.empty() || threads < 1 || prompt < 1 || gen < 1 || reps < 1)
    return usage();

  llama_backend_init();
  llama_log_set(quiet, nullptr);
  llama_model *m = llama_model_load_from_file(model.c_str(),
                                              llama_model_default_params());
  if (!m) {
    std::fprintf(stderr, "error: %s: cannot load the model\n", model.c_str());
    return 1;
  }
  const llama_vocab *vocab = llama_model_get_vocab(m);
  const int nVocab = llama_vocab_n_tokens(vocab);
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = generate ? uint32_t(llama_model_n_ctx_train(m))
                      : uint32_t(prompt + gen);
  cp.n_batch = 2048;
  cp.n_ubatch = 512;
  cp.n_threads = cp.n_threads_batch = threads;
  llama_context *ctx = llama_init_from_model(m, cp);
  if (!ctx) {
    std::fprintf(stderr, "error: %s: cannot create a context\n",
                 model.c_str());
    return 1;
  }

  if (generate) {
    std::vector<llama_token> toks(text.size() + 2);
    int n = llama_tokenize(vocab, text.c_str(), int(text.size()), toks.data(),
                           int(toks.size()), true, false);
    if (n < 0 || llama_decode(ctx, llama_batch_get_one(toks.data(), n)))
      return 1;
    for (int i = 0; i < gen; ++i) {
      const float *logits = llama_get_logits_ith(ctx, -1);
      llama_token best = 0;
      for (llama_token j = 1; j < nVocab; ++j)
        if (logits[j] > logits[best])
          best = j;
      char piece[128];
      int len = llama_token_to_piece(vocab, best, piece, sizeof piece, 0, false);
      std::fwrite(piece, 1, len > 0 ? size_t(len) : 0, stdout);
      if (llama_decode(ctx, llama_batch_get_one(&best, 1)))
        return 1;
    }
    std::printf("\n");
    return 0;
  }

  char desc[128];
  llama_model_desc(m, desc, sizeof desc);
  llama_memory_t memory = llama_get_memory(ctx);
  auto runPrompt = [&](int n) {
    std::vector<llama_token> toks(size_t(n), 1);
    for (int i = 1; i < n; ++i)
      toks[size_t(i)] = std::rand() % nVocab;
    llama_decode(ctx, llama_batch_get_one(toks.data(), n));
    llama_synchronize(ctx);
  };
  auto runGen = [&](int n) {
    llama_token tok = 1;
    for (int i = 0; i < n; ++i) {
      llama_decode(ctx, llama_batch_get_one(&tok, 1));
      llama_synchronize(ctx);
      tok = std::rand() % nVocab;
    }
  };
  std::printf("[\n");
  for (int test = 0; test < 2; ++test) {
    const bool pp = test == 0;
    const int tokens = pp ? prompt : gen;
    llama_memory_clear(memory, true);
    pp ? runPrompt(tokens) : runGen(1); // warm-up
    std::vector<double> tps;
    for (int k = 0; k < reps; ++k) {
      llama_memory_clear(memory, true);
      double start = seconds();
      pp ? runPrompt(tokens) : runGen(tokens);
      tps.push_back(tokens / (seconds() - start));
    }
    double mean = 0, var = 0;
    for (double v : tps)
      mean += v / double(tps.size());
    for (double v : tps)
      var += (v - mean) * (v - mean) / double(tps.size() > 1 ? tps.size() - 1 : 1);
    std::printf("  {\"model_type\": \"%s\", \"n_threads\": %d, \"n_prompt\": %d, "
                "\"n_gen\": %d, \"avg_ts\": %.3f, \"stddev_ts\": %.3f}%s\n",
                desc, threads, pp ? tokens : 0, pp ? 0 : tokens, mean,
                std::sqrt(var), pp ? "," : "");
  }
  std::printf("]\n");
  llama_free(ctx);
  llama_model_free(m);
  return 0;
}
