import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { reconcileDeadLetter } from '../services/backstop/dead-letters';
import { describeError } from '../services/shared/errors';
import { getWiring, inInvocation } from './wiring';

/**
 * The backstop's dead-letter queue → reconciliation (services/backstop/dead-letters.ts): each message is
 * checked against EC2 and recorded. A message EC2 could not be asked about is handed back to the queue
 * (a partial batch failure), to be tried again.
 */
export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  const wiring = getWiring();
  return inInvocation(
    context,
    {},
    async (logger) => {
      const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
      try {
        for (const record of event.Records ?? []) {
          const attributes = Object.fromEntries(
            Object.entries(record.messageAttributes ?? {}).map(([k, v]) => [k, v.stringValue ?? '']),
          );
          try {
            const outcome = await reconcileDeadLetter(
              { ...wiring, groups: wiring.ec2 },
              { messageId: record.messageId, body: record.body, attributes, queueArn: record.eventSourceARN },
            );
            logger.info({ messageId: record.messageId, outcome }, 'dead letter handled');
          } catch (error) {
            logger.warn(
              { messageId: record.messageId, err: describeError(error) },
              'dead letter kept for later',
            );
            batchItemFailures.push({ itemIdentifier: record.messageId });
          }
        }
      } finally {
        wiring.metrics.flush();
      }
      return { batchItemFailures };
    },
    { homes: 'none' },
  );
}
