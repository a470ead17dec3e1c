/**
 * Per-layer isolation (teacher forcing): run layer i alone on a supplied residual stream, typically
 * another trace's full `blk.<i-1>.l_out` (or `embd` for layer 0) of the prompt step, and capture its
 * points. A layer that is wrong shows error here; drift inherited from earlier layers does not.
 */
import { InputError } from "../util/errors.js";
import type { Engine } from "./engine.js";
import { forward, type CaptureFn } from "./forward.js";

export interface IsolateOptions {
  layer: number;
  /** [T, nEmbd]: the input of the layer (output of the layer before), positions 0..T-1. */
  input: Float32Array;
  capture?: CaptureFn;
  keepKq?: boolean;
}

/** Returns the layer's output ([T, nEmbd], its l_out). */
export function runLayerIsolated(engine: Engine, o: IsolateOptions): Float32Array {
  const c = engine.model.config;
  if (!Number.isInteger(o.layer) || o.layer < 0 || o.layer >= c.nLayer) throw new InputError(`layer ${o.layer} is outside 0..${c.nLayer - 1}`);
  if (o.input.length === 0 || o.input.length % c.nEmbd !== 0) {
    throw new InputError(`isolation input has ${o.input.length} elements, not a multiple of n_embd ${c.nEmbd}`);
  }
  const T = o.input.length / c.nEmbd;
  const st = engine.newState(T);
  // token ids are not read when an input is supplied; only the batch length matters
  return forward(engine.model, new Array<number>(T).fill(0), st, {
    from: o.layer, to: o.layer + 1, input: o.input, capture: o.capture, keepKq: o.keepKq, logits: "all", head: false,
  });
}
