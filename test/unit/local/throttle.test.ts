import { RouteThrottle, TOO_MANY_REQUESTS } from '../../../local/throttle';

// #12.6 the sandbox throttles its routes as API Gateway's route settings do (config http.throttle).
describe('RouteThrottle', () => {
  it('lets a burst through at once, then refuses until the rate refills it', () => {
    let now = 1_000_000;
    const throttle = new RouteThrottle({ rate: 2, burst: 3 }, () => now);
    expect([throttle.take(), throttle.take(), throttle.take(), throttle.take()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    now += 499;
    expect(throttle.take()).toBe(false);
    now += 1;
    expect([throttle.take(), throttle.take()]).toEqual([true, false]);
    now += 10_000;
    expect([throttle.take(), throttle.take(), throttle.take(), throttle.take()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('answers like API Gateway: 429 with its JSON message', () => {
    expect(TOO_MANY_REQUESTS).toEqual({
      statusCode: 429,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"Too Many Requests"}',
    });
  });
});
