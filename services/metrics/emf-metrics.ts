import type { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { lazyModule } from '../shared/lazy-module';
import type { Logger } from '../shared/logger';
import {
  METRIC_CATALOG,
  METRICS_NAMESPACE,
  type MetricDimensions,
  type MetricName,
  type Metrics,
} from '../shared/metrics';

// Loaded on the first data point: a function that emits nothing (the Slack door) never pays for it.
const powertools = lazyModule(
  () => require('@aws-lambda-powertools/metrics') as typeof import('@aws-lambda-powertools/metrics'),
);

/** Data points that share one dimension set: written as one EMF line. */
interface Batch {
  dimensions: MetricDimensions;
  counts: Map<MetricName, number>;
  samples: Map<MetricName, number[]>;
}

/**
 * Metrics as CloudWatch embedded-metric-format lines in the function's log (Powertools for AWS Lambda),
 * namespace `sg-warden`, dimension `stage` plus each metric's own. CloudWatch turns the lines into
 * metrics; no PutMetricData call, no IAM permission. Data points are buffered per dimension set: counts
 * summed, durations kept as samples, until `flush()`.
 */
export class EmfMetrics implements Metrics {
  private readonly stage: string;
  private readonly logger: Logger;
  private readonly batches = new Map<string, Batch>();
  private emitter: PowertoolsMetrics | undefined;

  constructor(options: { stage: string; logger: Logger }) {
    this.stage = options.stage;
    this.logger = options.logger;
  }

  add(name: MetricName, value: number, dimensions: MetricDimensions = {}): void {
    const key = JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)));
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { dimensions, counts: new Map(), samples: new Map() };
      this.batches.set(key, batch);
    }
    if (METRIC_CATALOG[name].unit === 'Count') {
      batch.counts.set(name, (batch.counts.get(name) ?? 0) + value);
    } else {
      const samples = batch.samples.get(name) ?? [];
      samples.push(value);
      batch.samples.set(name, samples);
      // EMF takes at most 100 values per metric in one line.
      if (samples.length >= 100) this.flush();
    }
  }

  flush(): void {
    if (this.batches.size === 0) return;
    const emitter = this.getEmitter();
    const { MetricUnit } = powertools();
    for (const batch of this.batches.values()) {
      for (const [dimension, value] of Object.entries(batch.dimensions)) {
        // Powertools skips (with a warning) a dimension with an empty value: say what it was instead.
        emitter.addDimension(dimension, value || 'none');
      }
      for (const [name, value] of batch.counts) emitter.addMetric(name, MetricUnit.Count, value);
      for (const [name, values] of batch.samples) {
        const unit = METRIC_CATALOG[name].unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.Milliseconds;
        for (const value of values) emitter.addMetric(name, unit, value);
      }
      emitter.publishStoredMetrics();
    }
    this.batches.clear();
  }

  private getEmitter(): PowertoolsMetrics {
    if (!this.emitter) {
      const logger = this.logger;
      this.emitter = new (powertools().Metrics)({
        namespace: METRICS_NAMESPACE,
        serviceName: METRICS_NAMESPACE,
        // Powertools' own warnings go to the one structured logger, never to the EMF stream.
        logger: {
          debug: () => {},
          info: (message: string) => logger.info({ source: 'powertools-metrics' }, message),
          warn: (message: string) => logger.warn({ source: 'powertools-metrics' }, message),
          error: (message: string) => logger.error({ source: 'powertools-metrics' }, message),
        },
      });
      // Only `stage`: Powertools adds a `service` dimension by default, which every alarm would then have to name.
      this.emitter.clearDefaultDimensions();
      this.emitter.setDefaultDimensions({ stage: this.stage });
    }
    return this.emitter;
  }
}
