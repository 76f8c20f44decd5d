/** `vaekit generate --stream`: tokens printed as the runtime chooses them (`TextVae.stream()`). */
import type { GenerateOptions, TextVae } from '@vaekit/runtime';
import { CUT_MARK } from './text-output.js';

/**
 * Streams `n` sentences. The batch is decoded together (so the tokens equal `generate`'s for the same
 * seed); sentence 0 is printed token by token, the tokens of later sentences are held until the ones
 * before them end, then printed and followed live. With `json`, one line per token:
 * `{"index", "tokenId", "token", "logprob", "done"}`.
 */
export async function streamGenerations(vae: TextVae, options: GenerateOptions, json: boolean): Promise<void> {
  const out = process.stdout;
  if (json) {
    for await (const t of vae.stream(options)) out.write(JSON.stringify(t) + '\n');
    return;
  }
  const n = options.n ?? options.z?.length ?? 1;
  const tokens: number[][] = Array.from({ length: n }, () => []);
  const done: boolean[] = new Array<boolean>(n).fill(false);
  const finished: boolean[] = new Array<boolean>(n).fill(false);
  let current = 0;
  let printed = '';
  let cut = 0;
  // Prints what sentence `current` has gained since the last call; moves on past sentences that ended.
  const flush = () => {
    while (current < n) {
      const full = vae.tokenizer.decode(tokens[current]!);
      // Detokenizing joins `we ' re` into `we're`: a trailing apostrophe waits for the next token.
      const text = done[current] ? full : full.replace(/ '$/, '');
      if (text.startsWith(printed)) {
        out.write(text.slice(printed.length));
        printed = text;
      }
      if (!done[current]) return;
      out.write((finished[current] ? '' : CUT_MARK) + '\n');
      if (!finished[current]) cut++;
      current++;
      printed = '';
    }
  };
  for await (const t of vae.stream(options)) {
    tokens[t.index]!.push(t.tokenId);
    if (t.done) {
      done[t.index] = true;
      finished[t.index] = t.token === '<eos>';
    }
    if (t.index === current) flush();
  }
  flush();
  if (cut > 0) process.stderr.write(`vaekit: ${cut} of ${n} sentence${n > 1 ? 's' : ''} reached --max-tokens before <eos> (marked "${CUT_MARK.trim()}").\n`);
}

