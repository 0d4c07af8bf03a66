/**
 * The config overlay every browser journey runs with (merged over the sandbox's config): deadlines short
 * enough to wait out in a test for critical rules only, so that people have time to click on the others.
 */
export const E2E_CONFIG = `
policy:
  timeouts: { critical: 4s, high: 10m, medium: 30m, low: null }
`;

/** How long a journey may take, start-up included. */
export const JOURNEY_TIMEOUT_MS = 90_000;
