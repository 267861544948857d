//===- MixQBase.td - The mixq dialect definition -----------*- tablegen -*-===//
//
// The mixq dialect: mixed-precision quantized weights and the ops that consume
// them. Attributes, types and ops are defined in MixQAttrs.td, MixQTypes.td
// and MixQOps.td.
//
//===----------------------------------------------------------------------===//
#ifndef MIXQ_BASE_TD
#define MIXQ_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def MixQ_Dialect : Dialect {
  let name = "mixq";
  let cppNamespace = "::mixq";
  let summary = "Mixed-precision quantized weights and the ops that use them";
  let description = [{
    The mixq dialect describes quantized weight formats and the operations of
    quantized LLM inference at the level the kernels care about. A
    `#mixq.layout` attribute names one weight's format (scheme, bit widths,
    groups, scales, outliers); a `!mixq.qweight` value is a handle to the
    packed data of one weight, bound to a tensor of a mixq package by
    `mixq.weight`. `mixq.qmatmul` multiplies activations by such a weight;
    passes plan, split, tile and lower it for a CPU or a GPU.

    The per-group precision maps, codes, scales, lookup tables and outliers are
    data in the package; the IR carries only what code generation needs: the
    shape, the format, and the counts that size every stream.

    ```mlir
    func.func @proj(%x: tensor<?x4096xf16>) -> tensor<?x4096xf32> {
      %w = mixq.weight "layers.0.attention.wq"
          : !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
      %y = mixq.qmatmul %x, %w : tensor<?x4096xf16>,
          !mixq.qweight<4096x4096, #mixq.layout<uniform, bits = 4, group = 128>>
          -> tensor<?x4096xf32>
      return %y : tensor<?x4096xf32>
    }
    ```
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();
  }];
}

class MixQ_Op<string mnemonic, list<Trait> traits = []>
    : Op<MixQ_Dialect, mnemonic, traits>;

#endif // MIXQ_BASE_TD
