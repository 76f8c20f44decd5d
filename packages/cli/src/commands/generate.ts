/** Text commands over a sentence VAE bundle: `vaekit generate`, `vaekit encode`, `vaekit interpolate`. */
import type { Command } from 'commander';
import type { DecodingStrategy, TextVae } from '@vaekit/runtime';
import { UsageError } from '../errors.js';
import { STRATEGIES, type Device } from '../shared/choices.js';
import { addDeviceOption, deviceOf, type DeviceOptions } from '../shared/device.js';
import { intIn, numberIn, oneOf, positiveInt } from '../shared/options.js';

/** Loads a text bundle (an image bundle gets a pointer to `vaekit sample`), runs `fn`, and releases it. */
async function withTextVae<T>(bundle: string, device: Device, fn: (vae: TextVae) => Promise<T>): Promise<T> {
  const { loadVae } = await import('@vaekit/runtime');
  const vae = await loadVae(bundle, { backend: device });
  try {
    if (vae.kind !== 'text') {
      throw new UsageError(`${bundle} is an image bundle; this command generates text. Use: vaekit sample ${bundle} (or vaekit reconstruct ${bundle})`);
    }
    return await fn(vae);
  } finally {
    await vae.dispose();
  }
}

interface DecodingFlags extends DeviceOptions {
  strategy: DecodingStrategy;
  temperature: number;
  topK: number;
  topP: number;
  beam: number;
  lengthPenalty: number;
  repetitionPenalty: number;
  maxTokens: number;
  seed: number;
  json?: boolean;
}

function decodingFlags(cmd: Command): Command {
  return addDeviceOption(
    cmd
      .option('--strategy <name>', `decoding: ${STRATEGIES.join(' | ')}`, oneOf(STRATEGIES), 'greedy')
      .option('--temperature <t>', 'sampling temperature (strategy sample)', numberIn(1e-3, 100), 1)
      .option('--top-k <k>', 'sample among the k most likely tokens (0 = off; strategy sample)', intIn(0, 1_000_000), 0)
      .option('--top-p <p>', 'sample from the smallest set of tokens whose probability reaches p (1 = off; strategy sample)', numberIn(1e-6, 1), 1)
      .option('--beam <width>', 'beam width (strategy beam)', positiveInt(256), 4)
      .option('--length-penalty <a>', 'beam score = logp / length^a (strategy beam)', numberIn(-10, 10), 1)
      .option('--repetition-penalty <r>', 'penalise tokens already generated (1 = off)', numberIn(1e-3, 100), 1)
      .option('--max-tokens <n>', 'most tokens per sentence, <eos> included; sentences cut short end with " …"', positiveInt(10_000), 40)
      .option('--seed <s>', 'seed of the prior draw and of sampling', intIn(0, 2 ** 31 - 1), 0),
  ).option('--json', 'print JSON: text, tokens, token ids, per-token log-probabilities, finished, z');
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

const givenOnCli = (cmd: Command) => (key: string) => cmd.getOptionValueSource(key) === 'cli';

/** Registers `vaekit generate`. */
export function registerGenerate(program: Command): void {
  decodingFlags(
    program
      .command('generate')
      .description('draw latent vectors from the prior and generate a sentence from each')
      .argument('<bundle>', 'text bundle folder made by vaekit export')
      .option('--n <count>', 'number of sentences', positiveInt(100_000), 5)
      .option('--stream', 'print tokens as they are generated (greedy and sample; with --json: one JSON line per token)'),
  ).action(async (bundle: string, opts: DecodingFlags & { n: number; stream?: boolean }, cmd: Command) => {
    const device = deviceOf(opts, cmd);
    const { printGenerations, warnIgnoredDecodingOptions } = await import('../shared/text-output.js');
    warnIgnoredDecodingOptions(opts.strategy, givenOnCli(cmd));
    if (opts.stream && opts.strategy === 'beam') throw new UsageError('--stream works with --strategy greedy or sample; beam search picks its sentences only at the end.');
    await withTextVae(bundle, device, async (vae) => {
      if (opts.stream) {
        const { streamGenerations } = await import('../shared/stream.js');
        await streamGenerations(vae, { n: opts.n, ...decoding(opts) }, Boolean(opts.json));
        return;
      }
      const gens = await vae.generate({ n: opts.n, ...decoding(opts) });
      printGenerations(gens, Boolean(opts.json), { n: opts.n, strategy: opts.strategy, seed: opts.seed, maxTokens: opts.maxTokens, device: vae.backend });
    });
  });
}

/** Registers `vaekit encode`. */
export function registerEncode(program: Command): void {
  addDeviceOption(
    program
      .command('encode')
      .description('print the posterior mean and log-variance of q(z|x) for a sentence')
      .argument('<bundle>', 'text bundle folder made by vaekit export')
      .argument('<sentence>', 'the sentence to encode'),
  )
    .option('--json', 'print JSON (input, tokens, tokenIds, mu, logvar, device)')
    .action(async (bundle: string, sentence: string, opts: DeviceOptions & { json?: boolean }, cmd: Command) => {
      const device = deviceOf(opts, cmd);
      const { warnUnusableInput } = await import('../shared/text-output.js');
      const { printJson } = await import('../shared/output.js');
      await withTextVae(bundle, device, async (vae) => {
        warnUnusableInput(vae, sentence);
        const { mu, logvar } = await vae.encode([sentence]);
        const ids = vae.tokenizer.encode(sentence);
        const tokens = ids.map((id) => vae.tokenizer.idToToken(id));
        if (opts.json) printJson({ input: sentence, tokens, tokenIds: ids, mu: Array.from(mu[0]!), logvar: Array.from(logvar[0]!), device: vae.backend });
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
  ).action(async (bundle: string, a: string, b: string, opts: DecodingFlags & { steps: number; method: 'linear' | 'slerp' }, cmd: Command) => {
    const device = deviceOf(opts, cmd);
    const { printGenerations, warnIgnoredDecodingOptions, warnUnusableInput } = await import('../shared/text-output.js');
    warnIgnoredDecodingOptions(opts.strategy, givenOnCli(cmd));
    await withTextVae(bundle, device, async (vae) => {
      warnUnusableInput(vae, a, 'the first sentence');
      warnUnusableInput(vae, b, 'the second sentence');
      const gens = await vae.interpolate(a, b, { steps: opts.steps, method: opts.method, ...decoding(opts) });
      printGenerations(gens, Boolean(opts.json), { inputs: [a, b], steps: opts.steps, method: opts.method, strategy: opts.strategy, seed: opts.seed, maxTokens: opts.maxTokens, device: vae.backend });
    });
  });
}
