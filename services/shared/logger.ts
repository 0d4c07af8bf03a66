import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The one structured logger: JSON lines with constant messages and data as fields.
 * Correlation keys are added per invocation with `logger.child({...})`.
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sg-warden' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['token', 'signingSecret', 'botToken', '*.token', '*.botToken', '*.signingSecret'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** A logger that drops everything, for pure unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });

const invocation = new AsyncLocalStorage<Logger>();

/**
 * The container's logger as services and listeners hold it (built once, in the wiring): each call goes
 * to the logger of the invocation being handled (`withInvocationLogger`), so every line carries that
 * invocation's correlation keys (the Lambda request ID first), and to `base` outside one.
 */
export function invocationAwareLogger(base: Logger): Logger {
  return new Proxy(base, {
    get(target, property) {
      const current = invocation.getStore() ?? target;
      const value = Reflect.get(current, property, current) as unknown;
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}

/** Runs one invocation with `logger` (a child with its correlation keys) as the logger of everything it calls. */
export function withInvocationLogger<T>(logger: Logger, fn: () => T): T {
  return invocation.run(logger, fn);
}
