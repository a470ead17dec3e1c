/**
 * Where each weight role is consumed: the first capture point a defect in it can show at (the forward
 * pass, src/model/forward.ts, in capture order). The diagnosis orders findings by it, the expected noise
 * starts a type difference's band there, and an experiment reruns from its layer.
 */
import { compareForward } from "./align.js";

/** The capture point where a defect in this weight role first shows. */
const ROLE_POINT: Record<string, string> = {
  token_embd: "embd",
  attn_norm: "attn_norm",
  attn_q: "q",
  attn_q_bias: "q",
  attn_q_norm: "q_rope", // q is captured before the norm: its first visible effect is q_rope
  attn_k: "k",
  attn_k_bias: "k",
  attn_k_norm: "k_rope",
  attn_v: "v",
  attn_v_bias: "v",
  attn_output: "attn_out",
  attn_output_bias: "attn_out",
  ffn_norm: "ffn_norm",
  ffn_gate: "ffn_gate",
  ffn_up: "ffn_up",
  ffn_down: "ffn_out",
  output_norm: "result_norm",
  output: "logits",
  rope_freqs: "q_rope",
};

/** Capture key of the point a role key (`blk.3.attn_q`, `output`) first affects. */
export function pointOfRole(roleKey: string): { key: string; point: string; layer: number | null } {
  const m = /^blk\.(\d+)\.(.+)$/.exec(roleKey);
  const role = m ? m[2] : roleKey;
  const layer = m ? Number(m[1]) : null;
  const point = ROLE_POINT[role] ?? "embd";
  return { key: layer === null ? point : `blk.${layer}.${point}`, point, layer };
}


/** Is the point at or after where `roleKey` is consumed (step 0 order)? */
export function consumedBy(roleKey: string, p: { point: string; layer: number | null; step: number; key: string }): boolean {
  const c = pointOfRole(roleKey);
  return compareForward({ ...c, step: p.step }, p) <= 0;
}
