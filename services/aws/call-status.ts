import type { AwsCallError } from '../shared/errors';

/**
 * The HTTP status AWS answered a failed call with, or undefined when no answer came (a timeout, a
 * network error). Read from the SDK's response metadata here, on the adapter side, so that feature
 * code never reads `$metadata`.
 */
export function httpStatusOf(error: AwsCallError): number | undefined {
  const status = (error.cause as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** True when AWS answered with a 4xx: it refused the call and changed nothing. */
export function isDefiniteRefusal(error: AwsCallError): boolean {
  const status = httpStatusOf(error);
  return status !== undefined && status >= 400 && status < 500;
}
