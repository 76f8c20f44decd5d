/**
 * `vaekit train ... --report`: rewrites RUN/report.html after every epoch. The training hooks are
 * synchronous, so reports are chained on a promise and `flush()` waits for the last one; a report
 * that fails is told on stderr and never stops training.
 */

/** Rewrites the report of one run after each epoch. */
export interface LiveReport {
  /** Call from the `onEpoch` hook: queues a rewrite of the report. */
  epochDone(epoch: number): void;
  /** Waits for the queued rewrites; returns the report's path once one was written. */
  flush(): Promise<string | undefined>;
}

/** A {@link LiveReport} for `runDir`, printing "report: PATH" lines through `log`. */
export function liveReport(runDir: string, log: (line: string) => void): LiveReport {
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let written: string | undefined;
  return {
    epochDone(epoch) {
      pending++;
      chain = chain.then(async () => {
        pending--;
        // Epochs that finished while a report was being written are covered by the next one.
        if (pending > 0) return;
        try {
          const { writeReport } = await import('./report.js');
          const r = await writeReport(runDir);
          written = r.file;
          log(`report (epoch ${epoch}): ${r.file}`);
        } catch (err) {
          log(`report (epoch ${epoch}) failed: ${(err as Error).message.split('\n')[0]}`);
        }
      });
    },
    async flush() {
      await chain;
      return written;
    },
  };
}
