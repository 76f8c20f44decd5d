/** Prometheus metrics of `vaekit serve` (prom-client), served at `/metrics`. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchObserver } from './batcher.js';
import type { GenerationObserver } from './generation.js';

/** The server's metrics in their own registry (default process metrics included: RSS, heap, event-loop lag). */
export class ServeMetrics implements BatchObserver, GenerationObserver {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'vaekit_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'code'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'vaekit_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly inflight = new Gauge({ name: 'vaekit_inflight_requests', help: 'HTTP requests being handled', registers: [this.registry] });
  readonly batchSize = new Histogram({
    name: 'vaekit_batch_size',
    help: 'Rows per ONNX Runtime run, by model',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  });
  readonly batchRequests = new Histogram({
    name: 'vaekit_batch_requests',
    help: 'Requests merged into one ONNX Runtime run, by model',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly queueLength = new Gauge({ name: 'vaekit_queue_length', help: 'Requests waiting for a batch, by model', labelNames: ['model'], registers: [this.registry] });
  readonly decoderSteps = new Histogram({
    name: 'vaekit_decoder_step_sequences',
    help: 'Sequences advanced by one shared decoder step run, by bundle',
    labelNames: ['bundle'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly activeSequences = new Gauge({ name: 'vaekit_active_sequences', help: 'Sequences being generated, by bundle', labelNames: ['bundle'], registers: [this.registry] });
  readonly tokens = new Counter({ name: 'vaekit_generated_tokens_total', help: 'Tokens generated, by bundle', labelNames: ['bundle'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  batch(model: string, rows: number, requests: number): void {
    this.batchSize.observe({ model }, rows);
    this.batchRequests.observe({ model }, requests);
  }

  queue(model: string, length: number): void {
    this.queueLength.set({ model }, length);
  }

  step(bundle: string, sequences: number): void {
    this.decoderSteps.observe({ bundle }, sequences);
    this.tokens.inc({ bundle }, sequences);
  }

  active(bundle: string, sequences: number): void {
    this.activeSequences.set({ bundle }, sequences);
  }
}
