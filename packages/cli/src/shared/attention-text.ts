/** Attention weights as a text heatmap for the terminal (one row per target token, one column per source token). */

const SHADES = [' ', '░', '▒', '▓', '█'];

/** A heatmap of `attention[t][s]` with the source tokens as column heads. */
export function attentionText(sourceTokens: readonly string[], targetTokens: readonly string[], attention: readonly (readonly number[])[]): string {
  const width = Math.max(...targetTokens.map((t) => t.length), 1);
  const head = ' '.repeat(width + 1) + sourceTokens.map((s) => s.slice(0, 6).padEnd(7)).join('');
  const rows = attention.map((row, t) => {
    const cells = row.map((w) => (SHADES[Math.min(SHADES.length - 1, Math.floor(w * SHADES.length))]!.repeat(3) + '    ').slice(0, 7));
    return `${(targetTokens[t] ?? '').padEnd(width)} ${cells.join('')}`;
  });
  return [head, ...rows].join('\n');
}
