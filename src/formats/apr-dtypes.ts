/**
 * APR v2 dtype bytes (spec §3) and the byte size each implies. APR's ids 0..31 are GGML's; 128/129 are
 * APR-native; 8/9 are legacy and ambiguous (decided by size, as realizar does). This is the one place
 * that knows APR's codes; the rosetta type id it maps to is what kernels and TensorViews use.
 */
export const APR_DTYPE = { F32: 0, F16: 1, Q4_K: 12, Q6_K: 14, BF16: 30, APR_Q4: 128, APR_Q8: 129 } as const;

/** rosetta type ids (kernels/include/rosetta/types.h) of the types an APR file can hold. */
export const TYPE = { F32: 0, F16: 1, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30, APR_Q4: 128, APR_Q8: 129 } as const;

export const TYPE_NAMES: Record<number, string> = {
  0: "f32", 1: "f16", 8: "q8_0", 12: "q4_K", 14: "q6_K", 30: "bf16", 128: "apr_q4", 129: "apr_q8",
};

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

export interface DtypeLayout {
  type: number; // rosetta type id
  /** Bytes of one stored row when rows are independently padded (K-quant rows with cols % 256 != 0). */
  rowBytes?: number;
}

/** Expected byte size of `n` elements stored flat in rosetta type `type` (APR_Q8 includes its scale). */
export function flatBytes(type: number, n: bigint): bigint {
  switch (type) {
    case TYPE.F32: return 4n * n;
    case TYPE.F16: case TYPE.BF16: return 2n * n;
    case TYPE.Q8_0: return 34n * ceilDiv(n, 32n);
    case TYPE.Q4_K: return 144n * ceilDiv(n, 256n);
    case TYPE.Q6_K: return 210n * ceilDiv(n, 256n);
    case TYPE.APR_Q4: return 18n * ceilDiv(n, 32n);
    case TYPE.APR_Q8: return 4n + n;
  }
  throw new Error(`flatBytes: type ${type}`);
}

/**
 * The rosetta type of an APR dtype byte given the tensor's dims and stored size, or a reason it is not
 * readable. K-quant 2-D tensors whose rows are not a multiple of 256 are per-row padded (§4.4).
 */
export function resolveDtype(dtype: number, dims: bigint[], size: bigint): DtypeLayout | string {
  const n = dims.reduce((a, b) => a * b, 1n);
  const exact = (type: number): DtypeLayout | string => {
    const want = flatBytes(type, n);
    return want === size ? { type } : `size ${size} does not match ${TYPE_NAMES[type]} of ${n} elements (expected ${want})`;
  };
  switch (dtype) {
    case APR_DTYPE.F32: return exact(TYPE.F32);
    case APR_DTYPE.F16: return exact(TYPE.F16);
    case APR_DTYPE.BF16: return exact(TYPE.BF16);
    case APR_DTYPE.APR_Q4: return exact(TYPE.APR_Q4);
    case APR_DTYPE.APR_Q8: case 9: return exact(TYPE.APR_Q8);
    case 2: return size === 2n * n ? { type: TYPE.BF16 } : "dtype 2 (pre-2026 BF16 code) with a size that is not 2 bytes per element";
    case 8: {
      if (size === flatBytes(TYPE.Q8_0, n)) return { type: TYPE.Q8_0 };
      if (size === flatBytes(TYPE.APR_Q4, n)) return { type: TYPE.APR_Q4 };
      return `legacy dtype 8 with size ${size}, neither GGML Q8_0 nor APR Q4 of ${n} elements`;
    }
    case APR_DTYPE.Q4_K: case APR_DTYPE.Q6_K: {
      const type = dtype === 12 ? TYPE.Q4_K : TYPE.Q6_K;
      const block = dtype === 12 ? 144n : 210n;
      if (dims.length === 2 && dims[1] % 256n !== 0n) {
        const rowBytes = ceilDiv(dims[1], 256n) * block;
        if (size !== dims[0] * rowBytes) return `size ${size} does not match per-row padded ${TYPE_NAMES[type]} [${dims.join(", ")}] (expected ${dims[0] * rowBytes})`;
        return { type, rowBytes: Number(rowBytes) };
      }
      return exact(type);
    }
  }
  return `unknown dtype ${dtype}`;
}

/** APR dtype byte a writer uses for a rosetta type id. */
export function aprDtypeOf(type: number): number {
  switch (type) {
    case TYPE.F32: return 0;
    case TYPE.F16: return 1;
    case TYPE.BF16: return 30;
    case TYPE.Q4_K: return 12;
    case TYPE.Q6_K: return 14;
    case TYPE.APR_Q4: return 128;
    case TYPE.APR_Q8: return 129;
  }
  throw new Error(`APR cannot store rosetta type ${type} (${TYPE_NAMES[type] ?? "unknown"})`);
}
