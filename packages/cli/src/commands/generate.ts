/** Text commands over a sentence VAE bundle: `vaekit generate`, `vaekit encode`, `vaekit interpolate`. */
import type { Command } from 'commander';
import { loadVae, type BackendName, type DecodingStrategy, type Generation, type TextVae } from '@vaekit/runtime';
import { intIn, numberIn, oneOf, positiveInt } from '../options.js';
import { printJson } from '../output.js';
import { NODE_BACKENDS } from './image.js';

const STRATEGIES = ['greedy', 'sample', 'beam'] as const;

/** Generations as JSON (token ids, per-token log-probs, z) or one sentence per line. */
export function printGenerations(gens: Generation[], json: boolean, extra: Record<string, unknown> = {}): void {
  if (json) {
    printJson({
      ...extra,
      generations: gens.map((g) => ({
        text: g.text,
        tokens: g.tokens,
        tokenIds: g.tokenIds,
        logprobs: g.logprobs,
        logprob: g.logprob,
        finished: g.finished,
        z: Array.from(g.z),
      })),
    });
  } else {
    process.stdout.write(gens.map((g) => g.text).join('\n') + '\n');
  }
}

async function withTextVae<T>(bundle: string, backend: BackendName, fn: (vae: TextVae) => Promise<T>): Promise<T> {
  const vae = await loadVae(bundle, { backend, kind: 'text' });
  try {
    return await fn(vae);
  } finally {
    await vae.dispose();
  }
}

interface DecodingFlags {
  strategy: DecodingStrategy;
  temperature: number;
  topK: number;
  topP: number;
  beam: number;
  lengthPenalty: number;
  repetitionPenalty: number;
  maxTokens: number;
  seed: number;
  backend: BackendName;
  json?: boolean;
}

function decodingFlags(cmd: Command): Command {
  return cmd
    .option('--strategy <name>', `decoding: ${STRATEGIES.join(' | ')}`, oneOf(STRATEGIES), 'greedy')
    .option('--temperature <t>', 'sampling temperature', numberIn(1e-3, 100), 1)
    .option('--top-k <k>', 'sample among the k most likely tokens (0 = off)', intIn(0, 1_000_000), 0)
    .option('--top-p <p>', 'sample from the smallest set of tokens whose probability reaches p (1 = off)', numberIn(1e-6, 1), 1)
    .option('--beam <width>', 'beam width (strategy beam)', positiveInt(256), 4)
    .option('--length-penalty <a>', 'beam score = logp / length^a', numberIn(-10, 10), 1)
    .option('--repetition-penalty <r>', 'penalise tokens already generated (1 = off)', numberIn(1e-3, 100), 1)
    .option('--max-tokens <n>', 'most tokens per sentence, <eos> included', positiveInt(10_000), 40)
    .option('--seed <s>', 'seed of the prior draw and of sampling', intIn(0, 2 ** 31 - 1), 0)
    .option('--backend <name>', `ONNX Runtime backend: ${NODE_BACKENDS.join(' | ')}`, oneOf(NODE_BACKENDS), 'cpu')
    .option('--json', 'print JSON: text, tokens, token ids, per-token log-probabilities, z');
}

function decoding(o: DecodingFlags) {
  return {
    strategy: o.strategy,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    beamWidth: o.beam,
    lengthPenalty: o.lengthPenalty,
    repetitionPenalty: o.repetitionPenalty,
    maxTokens: o.maxTokens,
    seed: o.seed,
  };
}

/** Registers `vaekit generate`. */
export function registerGenerate(program: Command): void {
  decodingFlags(
    program
      .command('generate')
      .description('draw latent vectors from the prior and generate a sentence from each')
      .argument('<bundle>', 'text bundle folder made by vaekit export')
      .option('--n <count>', 'number of sentences', positiveInt(100_000), 5),
  ).action(async (bundle: string, opts: DecodingFlags & { n: number }) => {
    await withTextVae(bundle, opts.backend, async (vae) => {
      const gens = await vae.generate({ n: opts.n, ...decoding(opts) });
      printGenerations(gens, Boolean(opts.json), { n: opts.n, strategy: opts.strategy, seed: opts.seed, backend: vae.backend });
    });
  });
}

/** Registers `vaekit encode`. */
export function registerEncode(program: Command): void {
  program
    .command('encode')
    .description('print the posterior mean and log-variance of q(z|x) for a sentence')
    .argument('<bundle>', 'text bundle folder made by vaekit export')
    .argument('<sentence>', 'the sentence to encode')
    .option('--backend <name>', `ONNX Runtime backend: ${NODE_BACKENDS.join(' | ')}`, oneOf(NODE_BACKENDS), 'cpu')
    .option('--json', 'print JSON (tokens, mu, logvar)')
    .action(async (bundle: string, sentence: string, opts: { backend: BackendName; json?: boolean }) => {
      await withTextVae(bundle, opts.backend, async (vae) => {
        const { mu, logvar } = await vae.encode([sentence]);
        const ids = vae.tokenizer.encode(sentence);
        const tokens = ids.map((id) => vae.tokenizer.idToToken(id));
        if (opts.json) printJson({ sentence, tokens, tokenIds: ids, mu: Array.from(mu[0]!), logvar: Array.from(logvar[0]!), backend: vae.backend });
        else {
          const fmt = (v: Float32Array) => `[${Array.from(v, (x) => x.toFixed(4)).join(', ')}]`;
          process.stdout.write(`tokens: ${tokens.join(' ')}\nmu:     ${fmt(mu[0]!)}\nlogvar: ${fmt(logvar[0]!)}\n`);
        }
      });
    });
}

/** Registers `vaekit interpolate`. */
export function registerInterpolate(program: Command): void {
  decodingFlags(
    program
      .command('interpolate')
      .description('encode two sentences and generate from points between their posterior means')
      .argument('<bundle>', 'text bundle folder made by vaekit export')
      .argument('<a>', 'first sentence')
      .argument('<b>', 'second sentence')
      .option('--steps <n>', 'points including both ends', intIn(2, 10_000), 5)
      .option('--method <m>', 'linear | slerp', oneOf(['linear', 'slerp'] as const), 'linear'),
  ).action(async (bundle: string, a: string, b: string, opts: DecodingFlags & { steps: number; method: 'linear' | 'slerp' }) => {
    await withTextVae(bundle, opts.backend, async (vae) => {
      const gens = await vae.interpolate(a, b, { steps: opts.steps, method: opts.method, ...decoding(opts) });
      printGenerations(gens, Boolean(opts.json), { a, b, steps: opts.steps, method: opts.method, backend: vae.backend });
    });
  });
}
