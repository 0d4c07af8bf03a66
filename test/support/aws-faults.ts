import { randomUUID } from 'node:crypto';
import { type InterceptAnswer, SlowProxy } from './slow-proxy';

/** An error AWS answers with, in the wire format of the service it comes from. */
export interface AwsErrorSpec {
  /** The AWS error code: RequestLimitExceeded, ProvisionedThroughputExceededException, … */
  code: string;
  /** HTTP status (EC2 throttling is 503, DynamoDB errors are 400, internal errors 500). */
  status: number;
  message?: string;
  /** DynamoDB TransactionCanceledException: one reason code per item of the transaction. */
  cancellationReasons?: string[];
}

/** Makes matching calls fail: the first `times` calls of `action` (optionally only those whose body matches). */
export interface AwsFault {
  /** The SigV4 signing name: `ec2`, `dynamodb`, `ssm`… */
  service: string;
  action: string;
  /** Only calls whose request body passes this test count (e.g. one rule ID, one status). */
  when?: (body: string) => boolean;
  /** Only calls signed for this region count. */
  region?: string;
  times: number;
  error: AwsErrorSpec;
}

/** One call the plan answered with an error instead of the emulator. */
export interface InjectedFault {
  service: string;
  action: string;
  code: string;
  body: string;
}

/** EC2's query-protocol error document. */
function ec2Error(spec: AwsErrorSpec): InterceptAnswer {
  const requestId = randomUUID();
  return {
    status: spec.status,
    headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId },
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Response><Errors><Error><Code>${spec.code}</Code><Message>${spec.message ?? spec.code}</Message></Error></Errors>` +
      `<RequestID>${requestId}</RequestID></Response>`,
  };
}

/** The query-protocol error document of ELBv2 (and other services that answer in ErrorResponse XML). */
function queryError(spec: AwsErrorSpec): InterceptAnswer {
  const requestId = randomUUID();
  return {
    status: spec.status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body:
      `<ErrorResponse><Error><Type>Sender</Type><Code>${spec.code}</Code><Message>${spec.message ?? spec.code}</Message></Error>` +
      `<RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

/** DynamoDB's JSON-protocol error body. */
function dynamoError(spec: AwsErrorSpec): InterceptAnswer {
  const body: Record<string, unknown> = {
    __type: `com.amazonaws.dynamodb.v20120810#${spec.code}`,
    message: spec.message ?? spec.code,
  };
  if (spec.cancellationReasons) {
    body.Message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${spec.cancellationReasons.join(', ')}]`;
    body.CancellationReasons = spec.cancellationReasons.map((Code) =>
      Code === 'None' ? { Code } : { Code, Message: `${Code} (injected)` },
    );
  }
  return {
    status: spec.status,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() },
    body: JSON.stringify(body),
  };
}

/** Throttling as each service says it. */
export const Throttle = {
  ec2: { code: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' },
  dynamodb: {
    code: 'ProvisionedThroughputExceededException',
    status: 400,
    message: 'The level of configured provisioned throughput for the table was exceeded.',
  },
  dynamodbRequests: {
    code: 'ThrottlingException',
    status: 400,
    message: 'Rate of requests exceeds the allowed throughput.',
  },
} as const satisfies Record<string, AwsErrorSpec>;

/**
 * A fault plan for the AWS side: an intercept hook for SlowProxy (test/support/slow-proxy.ts) that
 * answers chosen calls with the service's own error (EC2 XML, DynamoDB JSON) instead of forwarding them
 * to moto, so the call has no effect — like AWS refusing or throttling it. Everything else passes through.
 */
export class AwsFaults {
  readonly injected: InjectedFault[] = [];
  private faults: AwsFault[] = [];

  /** Adds a fault; faults are matched in the order they were added. */
  add(fault: AwsFault): void {
    this.faults.push({ ...fault });
  }

  /** Removes every fault not yet used up and forgets what was injected. */
  clear(): void {
    this.faults = [];
    this.injected.length = 0;
  }

  /** How many calls the plan still has to fail. */
  get pending(): number {
    return this.faults.reduce((n, f) => n + f.times, 0);
  }

  /** Injected faults of one action (optionally one error code). */
  injectedInto(action: string, code?: string): InjectedFault[] {
    return this.injected.filter((f) => f.action === action && (code === undefined || f.code === code));
  }

  readonly intercept = (
    call: { service: string; action: string; region?: string },
    body: string,
  ): InterceptAnswer | null => {
    const fault = this.faults.find(
      (f) =>
        f.times > 0 &&
        f.service === call.service &&
        f.action === call.action &&
        (f.region === undefined || f.region === call.region) &&
        (f.when?.(body) ?? true),
    );
    if (!fault) return null;
    fault.times -= 1;
    this.injected.push({ service: call.service, action: call.action, code: fault.error.code, body });
    if (call.service === 'elasticloadbalancing') return queryError(fault.error);
    return call.service === 'ec2' ? ec2Error(fault.error) : dynamoError(fault.error);
  };
}

/**
 * A SlowProxy in front of moto (no delay, bodies recorded) with a fault plan. Point the handlers at
 * `proxy.url` (AWS_ENDPOINT_URL) before importing them; `proxy.calls` shows what reached AWS.
 */
export async function startFaultyAws(): Promise<{ proxy: SlowProxy; faults: AwsFaults }> {
  const faults = new AwsFaults();
  const target = process.env.MOTO_URL;
  if (!target) throw new Error('MOTO_URL is not set: run the tests through jest (global setup starts moto)');
  const proxy = await new SlowProxy({ target, recordBodies: true, intercept: faults.intercept }).start();
  return { proxy, faults };
}

/** True when a form-encoded EC2 request names this security-group rule ID. */
export function namesRule(ruleId: string): (body: string) => boolean {
  return (body) => [...new URLSearchParams(body).values()].includes(ruleId);
}
