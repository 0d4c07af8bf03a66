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
