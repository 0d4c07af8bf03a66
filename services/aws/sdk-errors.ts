/** What the SDK says of a failed call: the service's request ID, HTTP status (none: no answer) and tries. */
export function callMetadata(error: unknown): { requestId?: string; httpStatus?: number; attempts?: number } {
  const meta = (error as { $metadata?: { requestId?: string; httpStatusCode?: number; attempts?: number } })
    ?.$metadata;
  return {
    ...(meta?.requestId ? { requestId: meta.requestId } : {}),
    ...(typeof meta?.httpStatusCode === 'number' ? { httpStatus: meta.httpStatusCode } : {}),
    ...(typeof meta?.attempts === 'number' ? { attempts: meta.attempts } : {}),
  };
}
