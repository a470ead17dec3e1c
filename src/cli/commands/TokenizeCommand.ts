/**
 * `rosetta tokenize <model> TEXT`: the token ids (and each token's piece) the model's own tokenizer gives for
 * TEXT, exactly as llama.cpp's llama_tokenize would (BOS/EOS as the model's metadata says).
 */
import type { CommandModule } from "yargs";

import { loadTokenizer, type Tokenizer } from "../../tokenizer/index.js";
import { utf8Decode } from "../../tokenizer/unicode.js";

export interface TokenizeArgs {
  model: string;
  text: string;
  json?: boolean;
  bos?: boolean;
  "parse-special"?: boolean;
}

export interface TokenizeReport {
  model: string;
  text: string;
  addBos: boolean;
  addEos: boolean;
  parseSpecial: boolean;
  count: number;
  ids: number[];
  /** The vocabulary entry of each token (e.g. "▁Hello", "Ġworld", "<0x0A>"). */
  tokens: string[];
  /** llama_token_to_piece of each token (text; a partial UTF-8 sequence shows as U+FFFD). */
  pieces: string[];
}

export function tokenizeReport(tok: Tokenizer, model: string, text: string, opts: { bos: boolean; parseSpecial: boolean }): TokenizeReport {
  const addBos = tok.vocab.addBos && opts.bos;
  const ids = tok.tokenize(text, { addSpecial: true, addBos, parseSpecial: opts.parseSpecial });
  return {
    model,
    text,
    addBos,
    addEos: tok.vocab.addEos,
    parseSpecial: opts.parseSpecial,
    count: ids.length,
    ids,
    tokens: ids.map((id) => tok.vocab.tokens[id]),
    pieces: ids.map((id) => utf8Decode(tok.tokenToPiece(id, true))),
  };
}

function printText(r: TokenizeReport): void {
  const flags = [r.addBos ? "BOS added" : "no BOS", r.addEos ? "EOS added" : null, r.parseSpecial ? "special tokens parsed" : null];
  const lines = [`${r.count} tokens (${flags.filter(Boolean).join(", ")})`, r.ids.join(" "), ""];
  const w = Math.max(2, ...r.ids.map((id) => String(id).length));
  const tw = Math.max(5, ...r.tokens.map((t) => JSON.stringify(t).length));
  lines.push(`${"#".padStart(4)}  ${"id".padStart(w)}  ${"token".padEnd(tw)}  piece`);
  r.ids.forEach((id, i) =>
    lines.push(`${String(i).padStart(4)}  ${String(id).padStart(w)}  ${JSON.stringify(r.tokens[i]).padEnd(tw)}  ${JSON.stringify(r.pieces[i])}`),
  );
  process.stdout.write(lines.join("\n") + "\n");
}

export const tokenizeCommand: CommandModule<object, TokenizeArgs> = {
  command: "tokenize <model> <text>",
  describe: "Print the token ids and pieces of TEXT under the model's tokenizer (as llama.cpp tokenizes)",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, description: "GGUF or APR model file, or Hugging Face folder (tokenizer.json)" })
      .positional("text", { type: "string", demandOption: true, description: "Text to tokenize" })
      .option("json", { type: "boolean", description: "Print ids, tokens and pieces as JSON on stdout" })
      .option("bos", { type: "boolean", default: true, description: "Add BOS when the model asks for it (--no-bos: never)" })
      .option("parse-special", { type: "boolean", default: false, description: "Match control-token texts such as <s> or <|im_end|> in TEXT" })
      .example("rosetta tokenize model.gguf 'Hello world'", "ids and pieces")
      .example("rosetta tokenize model.gguf '<|im_start|>user' --parse-special --json", "special tokens as tokens, JSON")
      .epilogue("Exit codes: 0 ok, 2 bad input or usage, 3 internal error."),
  handler: async (args) => {
    const tok = await loadTokenizer(args.model);
    const r = tokenizeReport(tok, args.model, String(args.text), { bos: args.bos ?? true, parseSpecial: args["parse-special"] ?? false });
    if (args.json) process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    else printText(r);
  },
};
