/**
 * API Gateway's route throttling, for the sandbox's routes: a token bucket that holds `burst` requests and
 * refills at `rate` per second. A request finding it empty gets API Gateway's own answer, 429.
 */
export class RouteThrottle {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limits: { rate: number; burst: number },
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limits.burst;
    this.last = now();
  }

  /** Takes one request's token; false when the route is over its rate and burst. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.last) / 1000) * this.limits.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** What API Gateway's HTTP API answers a throttled request. */
export const TOO_MANY_REQUESTS = {
  statusCode: 429,
  headers: { 'content-type': 'application/json' },
  body: '{"message":"Too Many Requests"}',
};
