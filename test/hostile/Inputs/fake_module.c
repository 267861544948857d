/* fake_module.c - a shared library that exports the ABI of
 * runtime/ModuleABI.h but claims the target MIXQ_FAKE_TARGET (e.g. sm_90a):
 * the runtime must refuse it before calling anything else. Build:
 *   clang-22 -shared -fPIC -DMIXQ_FAKE_TARGET='"sm_90a"' -I<src> ... */
#include "runtime/ModuleABI.h"

int32_t mixq_abi_version(void) { return MIXQ_ABI_VERSION; }
const char *mixq_package_sha256(void) {
  return "0000000000000000000000000000000000000000000000000000000000000000";
}
const char *mixq_target(void) { return MIXQ_FAKE_TARGET; }
void mixq_get_model_dims(mixq_model_dims *d) {
  d->dim = 16, d->hidden_dim = 32, d->n_layers = 1, d->n_heads = 2;
  d->n_kv_heads = 2, d->head_dim = 8, d->vocab_size = 269, d->max_seq_len = 16;
}
int64_t mixq_stream_count(void) { return 0; }
const char *mixq_stream_name(int64_t index) { (void)index; return 0; }
int64_t mixq_scratch_bytes(int64_t max_tokens) { (void)max_tokens; return 0; }
int32_t mixq_prefill(const mixq_runtime *rt, const void *const *streams,
                     float *kcache, float *vcache, const int32_t *tokens,
                     int64_t n, int64_t pos, int64_t first_logit,
                     float *logits, void *scratch) {
  (void)rt, (void)streams, (void)kcache, (void)vcache, (void)tokens, (void)n;
  (void)pos, (void)first_logit, (void)logits, (void)scratch;
  return MIXQ_STATUS_INTERNAL;
}
int32_t mixq_decode(const mixq_runtime *rt, const void *const *streams,
                    float *kcache, float *vcache, int32_t token, int64_t pos,
                    float *logits, void *scratch) {
  (void)rt, (void)streams, (void)kcache, (void)vcache, (void)token;
  (void)pos, (void)logits, (void)scratch;
  return MIXQ_STATUS_INTERNAL;
}
