/** How the sweeper paces alert posts to one channel (Slack allows about one message a second). */
export interface NotifyPacing {
  /** Least time between two posts. */
  minIntervalMs: number;
  /** Posting stops this long after the sweep began; the rest stay due for the next sweep. */
  budgetMs: number;
  /** When the sweep began (by `nowMs`); unset: when each pacer is first used. */
  startedAtMs?: number;
  /** Wall clock and sleep (real ones unless a test gives its own). */
  nowMs?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** No pacing: post as fast as answers come, and stop at the first rate limit (tests, one-off sweeps). */
export const UNPACED: NotifyPacing = { minIntervalMs: 0, budgetMs: Number.POSITIVE_INFINITY };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One stream of Slack calls kept to a pace: at most one per `minIntervalMs`, none after the budget, and
 * after a rate limit a pause (1 s, 2 s, 4 s … up to 8 s, never shorter than Slack's Retry-After) when
 * paced, or no more calls at all when unpaced. Keep one per channel and method for one sweep or drain.
 */
export class Pacer {
  private readonly nowMs: () => number;
  private readonly pause: (ms: number) => Promise<void>;
  private readonly startedAt: number;
  private lastAt = Number.NEGATIVE_INFINITY;
  private pauseMs = 0;
  private stopped = false;

  constructor(private readonly pacing: NotifyPacing) {
    this.nowMs = pacing.nowMs ?? Date.now;
    this.pause = pacing.sleep ?? sleep;
    this.startedAt = pacing.startedAtMs ?? this.nowMs();
  }

  /** True while calls may still be made (the budget is not spent and no unpaced rate limit was met). */
  get open(): boolean {
    return !this.stopped && this.nowMs() - this.startedAt <= this.pacing.budgetMs;
  }

  /** Waits for the next call's turn; false (and no wait) when the budget would be spent by then. */
  async turn(): Promise<boolean> {
    if (this.stopped) return false;
    const wait = Math.max(0, this.lastAt + this.pacing.minIntervalMs + this.pauseMs - this.nowMs());
    if (this.nowMs() + wait - this.startedAt > this.pacing.budgetMs) {
      this.stopped = true;
      return false;
    }
    if (wait > 0) await this.pause(wait);
    return true;
  }

  /** Records a call's end (counted from it, so two calls never reach Slack closer than the interval). */
  done(outcome: 'ok' | 'rate-limited', retryAfterSeconds = 0): void {
    this.lastAt = this.nowMs();
    if (outcome !== 'rate-limited') {
      this.pauseMs = 0;
      return;
    }
    if (this.pacing.minIntervalMs <= 0) this.stopped = true;
    this.pauseMs = Math.min(8000, Math.max(1000, this.pauseMs * 2, retryAfterSeconds * 1000));
  }
}
