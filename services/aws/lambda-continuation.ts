import type { LambdaClient } from '@aws-sdk/client-lambda';
import { lambdaSdk } from './sdk';

/**
 * Starts another invocation of a function with an asynchronous (Event) invoke: how a scan that ran out of
 * time carries on in a fresh invocation (it resumes from the cursor item, so the payload says nothing).
 */
export class LambdaContinuation {
  private readonly client: () => LambdaClient;
  private readonly functionName: string;

  constructor(options: { client: () => LambdaClient; functionName: string }) {
    this.client = options.client;
    this.functionName = options.functionName;
  }

  async continueScan(): Promise<void> {
    const { InvokeCommand } = lambdaSdk();
    await this.client().send(
      new InvokeCommand({
        FunctionName: this.functionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify({ continue: true })),
      }),
    );
  }
}
