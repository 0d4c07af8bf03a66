import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { JobEnvelope, JobQueue } from '../jobs/jobs';
import { lambdaSdk } from './sdk';

/** Hands jobs to the worker function with an asynchronous (Event) invoke: Lambda queues and retries them. */
export class LambdaJobQueue implements JobQueue {
  private readonly client: () => LambdaClient;
  private readonly functionName: string;

  constructor(options: { client: () => LambdaClient; functionName: string }) {
    this.client = options.client;
    this.functionName = options.functionName;
  }

  /** Loads the Lambda SDK and builds the client now, so that the first hand-off does not wait for them. */
  prepare(): void {
    lambdaSdk();
    this.client();
  }

  async enqueue(envelope: JobEnvelope): Promise<void> {
    const { InvokeCommand } = lambdaSdk();
    await this.client().send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(envelope)),
      }),
    );
  }
}
