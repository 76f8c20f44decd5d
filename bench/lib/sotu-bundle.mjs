// The real default SOTU text bundle for the generation, start-up and memory benchmarks: `vaekit train
// text` exactly as a user runs it (--data sotu, 5 epochs, vocabulary 10,000, embedding 128, GRU 256,
// latent 32, batch 32, the final IW-NLL evaluation included), then `vaekit export`. The training runs
// under /usr/bin/time -v, so its peak RSS is recorded too. It takes about 30 minutes on a quiet 2-core
// machine (90 under load); reused from bench/out/sotu-default/ when present (GENERATE_RETRAIN=1 trains
// again). SOTU_BUNDLE_LIMIT=N (with --min-count 1, so the vocabulary still fills its 10,000 entries)
// and SOTU_BUNDLE_EPOCHS=E train a shortened one instead, in its own folder: same sizes, so the same
// speed per step, but flatter next-token distributions (larger top-p nuclei) than the real model.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const cli = path.join(root, 'packages/cli/dist/main.js');

/** Peak resident set size in MiB from `/usr/bin/time -v` output, or undefined. */
function peakRssMiB(timeOutput) {
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(timeOutput);
  return m ? Math.round(Number(m[1]) / 1024) : undefined;
}

/**
 * Trains and exports the bundle (or reuses it); returns its folder and how it was made:
 * `{ bundleDir, epochs, trainSeconds, trainPeakRssMiB, command, reused }`.
 */
export async function sotuBundle({
  epochs = process.env.SOTU_BUNDLE_EPOCHS ?? '5',
  limit = process.env.SOTU_BUNDLE_LIMIT ?? '0',
  dir = path.join(root, Number(limit) > 0 || epochs !== '5' ? `bench/out/sotu-${limit}-${epochs}ep` : 'bench/out/sotu-default'),
  log = console.error,
} = {}) {
  const bundleDir = path.join(dir, 'bundle');
  const info = path.join(dir, 'made.json');
  if (existsSync(path.join(bundleDir, 'manifest.json')) && existsSync(info) && process.env.GENERATE_RETRAIN !== '1') {
    return { ...JSON.parse(await fs.readFile(info, 'utf8')), bundleDir, reused: true };
  }
  await fs.mkdir(dir, { recursive: true });
  const runDir = path.join(dir, 'run');
  const short = Number(limit) > 0 ? ['--limit', String(limit), '--min-count', '1'] : [];
  const args = short.length || epochs !== '5' ? ['train', 'text', '--data', 'sotu', '--epochs', String(epochs), ...short, '--k', '0', '--out', runDir, '--force'] : ['train', 'text', '--out', runDir, '--force'];
  const timeFile = path.join(dir, 'train.time');
  const trained = path.join(dir, 'trained.json');
  let training;
  if (existsSync(trained) && process.env.GENERATE_RETRAIN !== '1') {
    training = JSON.parse(await fs.readFile(trained, 'utf8')); // trained, not yet exported
  } else {
    log(`Training the benchmark bundle: vaekit ${args.join(' ')} (6-18 minutes per epoch on 2 cores)`);
    const started = performance.now();
    const train = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, cli, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (train.status !== 0) throw new Error(`vaekit train text failed (exit ${train.status})`);
    training = { trainSeconds: Math.round((performance.now() - started) / 1000), trainPeakRssMiB: peakRssMiB(await fs.readFile(timeFile, 'utf8')) };
    await fs.writeFile(trained, JSON.stringify(training) + '\n');
  }
  const exp = spawnSync(process.execPath, [cli, 'export', runDir, bundleDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (exp.status !== 0) throw new Error(`vaekit export failed (exit ${exp.status})`);
  const made = {
    epochs: Number(epochs),
    trainLimit: Number(limit),
    ...training,
    command: `vaekit ${args.join(' ')}`,
  };
  await fs.writeFile(info, JSON.stringify(made, null, 2) + '\n');
  return { ...made, bundleDir, reused: false };
}
