// RUN: mixq-opt %mixq_src/docs/examples/llama-layer.mlir | mixq-opt | FileCheck %s
// RUN: mixq-opt %mixq_src/docs/examples/llama-layer.mlir --mixq-storage-report -o /dev/null 2>&1 | FileCheck %s --check-prefix=BPW
// The README's sample module (one stories15M layer, a scheme per linear)
// stays valid, round-trips, and reports its storage.

// CHECK-LABEL: func.func @layer0
// CHECK-COUNT-7: mixq.weight
// CHECK: mixq.rms_norm
// CHECK: mixq.rope
// CHECK: mixq.attention
// CHECK: mixq.qmatmul {{.*}} {exclude_outliers}
// CHECK-NEXT: mixq.sparse_add

// BPW: remark: 'layers.0.attention.wq.weight' 288x288 <mixed, {{.*}}>: 285832 bits {{.*}} = 3.4461 bits/weight
// BPW: remark: total: 7 weights, 995328 parameters, 3819336 bits = 3.8373 bits/weight
