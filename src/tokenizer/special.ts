/**
 * llama.cpp's tokenizer_st_partition: cut the text at every occurrence of each special token, longest first,
 * each token cutting every fragment the longer ones left. A token that does not occur in the whole text cannot
 * occur in any fragment of it, so one scan with a trie of all special-token texts first finds the few tokens
 * that occur, and only those run the (exact, order-dependent) cutting. Without the scan, a vocabulary with
 * hundreds of special tokens pays one pass over the text per token.
 */
import { ATTR } from "./types.js";
import { isCSpace } from "./unicode.js";

export type Fragment = string | number; // raw text, or a special token id

interface TrieNode {
  next: Map<number, TrieNode>;
  /** Special token ids whose text ends here. */
  ids: number[];
}

export interface SpecialVocab {
  readonly tokens: readonly string[];
  readonly attrs: Uint16Array;
  /** Control / user-defined / unknown token ids, longest (UTF-8) text first. */
  readonly specialTokens: readonly number[];
}

export class SpecialSplitter {
  private readonly root: TrieNode = { next: new Map(), ids: [] };
  /** Order of each special token in vocab.specialTokens. */
  private readonly rank = new Map<number, number>();

  constructor(private readonly vocab: SpecialVocab) {
    vocab.specialTokens.forEach((id, k) => {
      this.rank.set(id, k);
      const text = vocab.tokens[id];
      let node = this.root;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        let child = node.next.get(c);
        if (!child) node.next.set(c, (child = { next: new Map(), ids: [] }));
        node = child;
      }
      node.ids.push(id);
    });
  }

  /** The special tokens that occur in `text`, in vocab.specialTokens order. */
  private occurring(text: string): number[] {
    const found = new Set<number>();
    const rootNext = this.root.next;
    for (let i = 0; i < text.length; i++) {
      let node = rootNext.get(text.charCodeAt(i));
      for (let j = i + 1; node !== undefined; j++) {
        for (const id of node.ids) found.add(id);
        node = j < text.length ? node.next.get(text.charCodeAt(j)) : undefined;
      }
    }
    return [...found].sort((a, b) => this.rank.get(a)! - this.rank.get(b)!);
  }

  partition(text: string, parseSpecial: boolean): Fragment[] {
    const v = this.vocab;
    let frags: Fragment[] = [text];
    if (this.root.next.size === 0) return frags;
    for (const id of this.occurring(text)) {
      const attr = v.attrs[id];
      // without parse_special only user-defined tokens are split out
      if (!parseSpecial && attr & (ATTR.CONTROL | ATTR.UNKNOWN)) continue;
      const tok = v.tokens[id];
      let next: Fragment[] | undefined;
      for (let k = 0; k < frags.length; k++) {
        const f = frags[k];
        if (typeof f !== "string" || f.indexOf(tok) < 0) {
          next?.push(f);
          continue;
        }
        next ??= frags.slice(0, k);
        splitOn(f, tok, id, attr, next);
      }
      if (next) frags = next;
    }
    return frags;
  }
}

function splitOn(f: string, tok: string, id: number, attr: number, out: Fragment[]): void {
  let pos = 0;
  for (;;) {
    const m = f.indexOf(tok, pos);
    if (m < 0) break;
    let leftEnd = m;
    if (attr & ATTR.LSTRIP) while (leftEnd > pos && isCSpace(f.charCodeAt(leftEnd - 1))) leftEnd--;
    if (leftEnd > pos) out.push(f.slice(pos, leftEnd));
    out.push(id);
    pos = m + tok.length;
    if (attr & ATTR.RSTRIP) while (pos < f.length && isCSpace(f.charCodeAt(pos))) pos++;
  }
  if (pos < f.length) out.push(f.slice(pos));
}
