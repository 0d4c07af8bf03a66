/** Base of every error sg-warden raises on purpose: a stable code, a user-facing sentence, the cause kept. */
export class SgWardenError extends Error {
  readonly code: string;
  readonly context: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** The input (a file, an event, a Slack payload, a command) is not what sg-warden accepts. */
export class BadInputError extends SgWardenError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('BAD_INPUT', message, options);
  }
}

/** The configuration file is missing or invalid; the message names the file and the field. */
export class ConfigError extends SgWardenError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('CONFIG_INVALID', message, options);
  }
}

/** The caller is not allowed to do what they asked. */
export class NotAuthorisedError extends SgWardenError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('NOT_AUTHORISED', message, options);
  }
}

/** A conditional write lost: someone else moved the item first. */
export class StateConflictError extends SgWardenError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('STATE_CONFLICT', message, options);
  }
}

/** Something the item refers to does not exist. */
export class NotFoundError extends SgWardenError {
  constructor(message: string, options: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('NOT_FOUND', message, options);
  }
}

/**
 * An AWS call failed; `awsCode` is the service's error code. `httpStatus` is the status of the service's
 * answer (unset when no answer came: a timeout, a lost connection) and `attempts` how many times the SDK
 * sent the call; the AWS adapters fill both, so nothing outside them reads the SDK's metadata.
 */
export class AwsCallError extends SgWardenError {
  readonly awsCode: string;
  readonly requestId: string | undefined;
  readonly httpStatus: number | undefined;
  readonly attempts: number | undefined;

  constructor(
    message: string,
    options: {
      awsCode: string;
      requestId?: string;
      httpStatus?: number;
      attempts?: number;
      cause?: unknown;
      context?: Record<string, unknown>;
    },
  ) {
    super('AWS_CALL_FAILED', message, options);
    this.awsCode = options.awsCode;
    this.requestId = options.requestId;
    this.httpStatus = options.httpStatus;
    this.attempts = options.attempts;
  }
}

/**
 * sg-warden cannot act in an AWS account: no member role is configured for it, or the role cannot be
 * assumed. The message reads "sg-warden cannot act in account …: …"; nothing is done there with the
 * bot's own credentials instead.
 */
export class AccountAccessError extends AwsCallError {
  readonly account: string;

  constructor(
    account: string,
    why: string,
    options: { awsCode?: string; requestId?: string; cause?: unknown } = {},
  ) {
    super(`sg-warden cannot act in account ${account}: ${why}`, {
      awsCode: options.awsCode ?? 'AccountUnreachable',
      ...(options.requestId ? { requestId: options.requestId } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
      context: { account },
    });
    this.account = account;
  }
}

/** A chat service asked us to slow down; try again after `retryAfterSeconds`. */
export class RateLimitedError extends SgWardenError {
  readonly retryAfterSeconds: number;

  constructor(message: string, options: { retryAfterSeconds: number; cause?: unknown }) {
    super('RATE_LIMITED', message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A one-line description of any thrown value, fit for a user or a log field (never a stack). */
export function describeError(error: unknown): string {
  if (error instanceof SgWardenError) return `${error.message} (${error.code})`;
  if (error instanceof Error)
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}
