/**
 * GGUF tokenizer keys and the APR custom keys aprender's importer writes for them (apr-format.md §6.3).
 * The converter writes APR keys from GGUF ones; the tokenizer reads APR files through the reverse map.
 */
export const TOKENIZER_KEYS: [string, string][] = [
  ["tokenizer.ggml.tokens", "tokenizer.vocabulary"],
  ["tokenizer.ggml.model", "tokenizer.model"],
  ["tokenizer.ggml.pre", "tokenizer.pre_type"],
  ["tokenizer.ggml.bos_token_id", "tokenizer.bos_token_id"],
  ["tokenizer.ggml.eos_token_id", "tokenizer.eos_token_id"],
  ["tokenizer.ggml.unknown_token_id", "tokenizer.unknown_token_id"],
  ["tokenizer.ggml.padding_token_id", "tokenizer.padding_token_id"],
  ["tokenizer.ggml.merges", "tokenizer.merges"],
  ["tokenizer.ggml.token_type", "tokenizer.token_type"],
  ["tokenizer.ggml.scores", "tokenizer.scores"],
  ["tokenizer.ggml.add_bos_token", "tokenizer.add_bos_token"],
  ["tokenizer.ggml.add_eos_token", "tokenizer.add_eos_token"],
  ["tokenizer.chat_template", "tokenizer.chat_template"],
];

/** APR metadata with its tokenizer keys renamed to GGUF's, so one tokenizer builder serves both formats. */
export function ggufTokenizerKeysFromApr(md: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { "general.name": md.name };
  for (const [gguf, apr] of TOKENIZER_KEYS) if (md[apr] !== undefined) out[gguf] = md[apr];
  return out;
}
