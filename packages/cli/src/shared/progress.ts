/** Progress display: a bar with ETA on a terminal, plain periodic lines otherwise (logs, CI). */
import cliProgress from 'cli-progress';

/** A progress reporter for one long task. */
export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

/** Creates a progress display on stderr for `total` units with a label. Silent when `quiet`. */
export function createProgress(label: string, total: number, options: { quiet?: boolean } = {}): Progress {
  if (options.quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return {
      update(done, fields) {
        bar.update(done, { info: fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' ') : '' });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const started = Date.now();
  let lastPrinted = 0;
  return {
    update(done, fields) {
      const now = Date.now();
      if (done < total && now - lastPrinted < 10_000) return;
      lastPrinted = now;
      const elapsed = (now - started) / 1000;
      const eta = done > 1 && done < total ? ` ETA ${((elapsed / done) * (total - done)).toFixed(0)}s` : '';
      const info = fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' ') : '';
      process.stderr.write(`${label} ${done}/${total} (${Math.round((100 * done) / total)}%)${eta} ${elapsed.toFixed(0)}s elapsed${info}\n`);
    },
    stop() {},
  };
}
