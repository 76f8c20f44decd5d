/**
 * Metrics of a classifier, defined once for training, `vaekit eval` and the benchmark: accuracy,
 * macro-F1, balanced accuracy, per-class recall, the confusion matrix and the area under the
 * precision-recall curve (average precision, as scikit-learn's `average_precision_score`). Pure
 * functions over plain arrays.
 */

/** Every metric of one classifier on one split. */
export interface ClassificationMetrics {
  examples: number;
  accuracy: number;
  macroF1: number;
  balancedAccuracy: number;
  /** Recall of each class, in class order. */
  recall: number[];
  precision: number[];
  f1: number[];
  /** Average precision of each class against the rest (one-vs-rest), in class order. */
  auprc: number[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
}

/** `confusion[t][p]`: examples of true class t predicted as p. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]!]![predicted[i]!]!++;
  return m;
}

/**
 * Average precision of binary `scores` for `positive` (1 = positive, 0 = negative):
 * AP = sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds in decreasing order (ties form
 * one threshold), as scikit-learn computes it. 0 when there is no positive example.
 */
export function averagePrecision(positive: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = positive.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let totalPos = 0;
  for (let i = 0; i < n; i++) totalPos += positive[i]! ? 1 : 0;
  if (totalPos === 0) return 0;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  let prevRecall = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    if (positive[i]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next !== undefined && scores[next] === scores[i]) continue;
    const recall = tp / totalPos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/** The index of the largest probability of each row of `probs` (`[n, classes]` row-major). */
export function argmaxRows(probs: ArrayLike<number>, classes: number): number[] {
  const n = probs.length / classes;
  return Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c;
    return best;
  });
}

/**
 * Predictions with a moved threshold: class `label` wins when its probability is at least `threshold`;
 * otherwise the most probable other class (binary: the other class).
 */
export function predictWithThreshold(probs: ArrayLike<number>, classes: number, label: number, threshold: number): number[] {
  const n = probs.length / classes;
  return Array.from({ length: n }, (_, i) => {
    if (probs[i * classes + label]! >= threshold) return label;
    let best = -1;
    for (let c = 0; c < classes; c++) if (c !== label && (best < 0 || probs[i * classes + c]! > probs[i * classes + best]!)) best = c;
    return best;
  });
}

/** All metrics from the true classes and predicted probabilities `[n, classes]` (row-major); `predicted` defaults to the argmax. */
export function classificationMetrics(truth: ArrayLike<number>, probs: ArrayLike<number>, classes: number, predicted: ArrayLike<number> = argmaxRows(probs, classes)): ClassificationMetrics {
  const n = truth.length;
  const confusion = confusionMatrix(truth, predicted, classes);
  const recall: number[] = [];
  const precision: number[] = [];
  const f1: number[] = [];
  const auprc: number[] = [];
  let correct = 0;
  for (let c = 0; c < classes; c++) {
    correct += confusion[c]![c]!;
    const tp = confusion[c]![c]!;
    const actual = confusion[c]!.reduce((a, b) => a + b, 0);
    const called = confusion.reduce((a, row) => a + row[c]!, 0);
    const r = actual > 0 ? tp / actual : 0;
    const p = called > 0 ? tp / called : 0;
    recall.push(r);
    precision.push(p);
    f1.push(p + r > 0 ? (2 * p * r) / (p + r) : 0);
    const isC = Array.from({ length: n }, (_, i) => (truth[i] === c ? 1 : 0));
    const scores = Array.from({ length: n }, (_, i) => probs[i * classes + c]!);
    auprc.push(averagePrecision(isC, scores));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // Balanced accuracy averages the recall of the classes present (scikit-learn's definition).
  const present = recall.filter((_, c) => confusion[c]!.some((v) => v > 0));
  return { examples: n, accuracy: n > 0 ? correct / n : 0, macroF1: mean(f1), balancedAccuracy: present.length ? mean(present) : 0, recall, precision, f1, auprc, confusion };
}

/**
 * The threshold on class `label`'s probability that maximises balanced accuracy on a validation split
 * (candidates: every distinct probability of the split and 0.5). Ties keep the threshold closest to 0.5.
 */
export function bestThreshold(truth: ArrayLike<number>, probs: ArrayLike<number>, classes: number, label: number): number {
  const candidates = new Set<number>([0.5]);
  for (let i = 0; i < truth.length; i++) candidates.add(probs[i * classes + label]!);
  let best = 0.5;
  let bestScore = -1;
  for (const t of [...candidates].sort((a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5))) {
    const score = classificationMetrics(truth, probs, classes, predictWithThreshold(probs, classes, label, t)).balancedAccuracy;
    if (score > bestScore + 1e-12) {
      bestScore = score;
      best = t;
    }
  }
  return best;
}
