/**
 * The word-level tokenizer shared by the trainer and the runtime (one implementation, no `fs`, no tfjs,
 * so it also runs in browsers). It reads and writes the Hugging Face tokenizers JSON layout with a
 * `WordLevel` model, a `Lowercase` normalizer and a `Whitespace` pre-tokenizer, so other tools can
 * load a vaekit `tokenizer.json`.
 */
import { VaekitError, quote } from './errors.js';

/** A `tokenizer.json` that is not a word-level tokenizer vaekit can use. */
export class TokenizerError extends VaekitError {
  override name = 'TokenizerError';
}

/** The special tokens, at fixed ids 0..3 in every vaekit vocabulary. */
export const SPECIAL_TOKENS = ['<pad>', '<unk>', '<bos>', '<eos>'] as const;
/** Id of `<pad>` (also the mask value of the encoder's Embedding). */
export const PAD_ID = 0;
/** Id of `<unk>` (out-of-vocabulary words, and word dropout's replacement). */
export const UNK_ID = 1;
/** Id of `<bos>` (the decoder's first input). */
export const BOS_ID = 2;
/** Id of `<eos>` (ends every sentence). */
export const EOS_ID = 3;

/** Options of {@link WordTokenizer.build}. */
export interface TokenizerBuildOptions {
  /** Keep at most this many tokens, the four special tokens included. Default 10000. */
  maxVocab?: number;
  /** Drop words seen fewer times than this. Default 1. */
  minCount?: number;
}

/** The Hugging Face tokenizers JSON layout, as much of it as a WordLevel tokenizer uses. */
export interface HfWordLevelJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: Array<{
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }>;
  normalizer: { type: 'Lowercase' };
  pre_tokenizer: { type: 'Whitespace' };
  post_processor: null;
  decoder: null;
  model: { type: 'WordLevel'; vocab: Record<string, number>; unk_token: string };
}

// The `Whitespace` pre-tokenizer of HF tokenizers: runs of word characters, or runs of other non-space
// characters (`\w+|[^\w\s]+`, with Unicode word characters as in Rust's regex crate).
const PRE_TOKENIZER = /[\p{L}\p{N}\p{M}\p{Pc}]+|[^\p{L}\p{N}\p{M}\p{Pc}\s]+/gu;

/**
 * Splits text the way the tokenizer does before the vocabulary lookup: lower-cased, then words and
 * punctuation runs as separate pieces (`"We're here."` -> `we ' re here .`).
 */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(PRE_TOKENIZER) ?? [];
}

/** A word-level vocabulary with the special tokens at ids 0..3. */
export class WordTokenizer {
  private readonly ids: Map<string, number>;

  private constructor(private readonly tokens: readonly string[]) {
    this.ids = new Map(tokens.map((t, i) => [t, i]));
  }

  /**
   * Builds a vocabulary from (training) sentences: the special tokens, then words by descending
   * frequency (ties broken alphabetically, so the result does not depend on input order), cut to
   * `maxVocab` and `minCount`.
   */
  static build(sentences: Iterable<string>, options: TokenizerBuildOptions = {}): WordTokenizer {
    const maxVocab = options.maxVocab ?? 10000;
    const minCount = options.minCount ?? 1;
    if (!Number.isInteger(maxVocab) || maxVocab < SPECIAL_TOKENS.length + 1) {
      throw new TokenizerError(`maxVocab must be an integer >= ${SPECIAL_TOKENS.length + 1} (got ${maxVocab}).`);
    }
    if (!Number.isInteger(minCount) || minCount < 1) {
      throw new TokenizerError(`minCount must be an integer >= 1 (got ${minCount}).`);
    }
    const counts = new Map<string, number>();
    for (const sentence of sentences) {
      for (const word of splitWords(sentence)) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    const specials = new Set<string>(SPECIAL_TOKENS);
    const words = [...counts.entries()]
      .filter(([w, c]) => c >= minCount && !specials.has(w))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxVocab - SPECIAL_TOKENS.length)
      .map(([w]) => w);
    return new WordTokenizer([...SPECIAL_TOKENS, ...words]);
  }

  /** Builds a tokenizer from its token list (index = id); the first four must be the special tokens. */
  static fromTokens(tokens: readonly string[]): WordTokenizer {
    SPECIAL_TOKENS.forEach((special, id) => {
      if (tokens[id] !== special) {
        throw new TokenizerError(`Token id ${id} must be "${special}" (found ${quote(tokens[id])}).`);
      }
    });
    if (new Set(tokens).size !== tokens.length) throw new TokenizerError('The vocabulary has duplicate tokens.');
    return new WordTokenizer([...tokens]);
  }

  /**
   * Reads a `tokenizer.json` (its text or parsed value) in the Hugging Face WordLevel layout.
   * Throws {@link TokenizerError} naming what is wrong: not JSON, another model type, ids that are not
   * 0..n-1, or special tokens missing from their fixed ids.
   */
  static fromJSON(source: string | unknown): WordTokenizer {
    let json: unknown = source;
    if (typeof source === 'string') {
      try {
        json = JSON.parse(source);
      } catch (e) {
        throw new TokenizerError(`tokenizer.json is not valid JSON: ${(e as Error).message}`);
      }
    }
    const model = (json as { model?: unknown } | null)?.model as
      | { type?: unknown; vocab?: unknown; unk_token?: unknown }
      | undefined;
    if (typeof json !== 'object' || json === null || typeof model !== 'object' || model === null) {
      throw new TokenizerError('tokenizer.json has no "model" object; expected the Hugging Face tokenizers layout with a WordLevel model.');
    }
    if (model.type !== 'WordLevel') {
      throw new TokenizerError(`tokenizer.json has model type ${quote(model.type)}; only "WordLevel" is supported.`);
    }
    if (model.unk_token !== undefined && model.unk_token !== SPECIAL_TOKENS[UNK_ID]) {
      throw new TokenizerError(`tokenizer.json unk_token must be "${SPECIAL_TOKENS[UNK_ID]}" (got ${quote(model.unk_token)}).`);
    }
    const vocab = model.vocab;
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) {
      throw new TokenizerError('tokenizer.json model.vocab must be an object mapping tokens to ids.');
    }
    const entries = Object.entries(vocab as Record<string, unknown>);
    const tokens: string[] = new Array<string>(entries.length);
    for (const [token, id] of entries) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= entries.length || tokens[id] !== undefined) {
        throw new TokenizerError(
          `tokenizer.json model.vocab gives ${quote(token)} the id ${quote(id)}; ids must be the distinct integers 0..${entries.length - 1}.`,
        );
      }
      tokens[id] = token;
    }
    return WordTokenizer.fromTokens(tokens);
  }

  /** The Hugging Face tokenizers JSON layout of this vocabulary (write it as `tokenizer.json`). */
  toJSON(): HfWordLevelJson {
    const vocab: Record<string, number> = {};
    this.tokens.forEach((t, i) => (vocab[t] = i));
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIAL_TOKENS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: { type: 'Lowercase' },
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: SPECIAL_TOKENS[UNK_ID] },
    };
  }

  /** Number of tokens, specials included (the model's V). */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The token list, index = id. */
  get vocabulary(): readonly string[] {
    return this.tokens;
  }

  /** The id of a token, or `<unk>`'s id when it is not in the vocabulary. */
  tokenToId(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  /** The token of an id; throws {@link TokenizerError} for ids outside 0..V-1. */
  idToToken(id: number): string {
    const token = this.tokens[id];
    if (token === undefined) throw new TokenizerError(`Token id ${id} is outside the vocabulary (0..${this.tokens.length - 1}).`);
    return token;
  }

  /** Word ids of a sentence, without `<bos>`/`<eos>`; unknown words become `<unk>`. */
  encode(text: string): number[] {
    return splitWords(text).map((w) => this.tokenToId(w));
  }

  /**
   * Text of token ids. Stops at the first `<eos>`, drops `<pad>` and `<bos>`; keeps `<unk>` visible.
   * Pieces are joined by spaces, then spaces are removed before closing punctuation and around
   * apostrophes inside words, so `we ' re here .` reads `we're here.`.
   */
  decode(ids: Iterable<number>): string {
    const words: string[] = [];
    for (const id of ids) {
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      words.push(this.idToToken(id));
    }
    return words
      .join(' ')
      .replace(/ ([.,;:!?%)\]}]+)/g, '$1')
      .replace(/([([{$]) /g, '$1')
      .replace(/(\p{L}) ' (\p{L})/gu, "$1'$2");
  }
}
