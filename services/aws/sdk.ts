import { lazyModule } from '../shared/lazy-module';

// The AWS SDK packages the adapters use, each loaded on first use. Loading an SDK client package costs
// from tens of milliseconds (SSM, STS, Lambda, DynamoDB) to well over a hundred (EC2) of cold start, and
// most functions need only some of them, on some invocations: in Lambda the Slack door calls neither
// EC2 nor DynamoDB (its jobs run in the worker), a sweep with nothing due calls neither EC2 nor SSM.
// Adapters import SDK types with `import type` and take command classes from these.

export const ec2Sdk = lazyModule(
  () => require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2'),
);
export const ssmSdk = lazyModule(
  () => require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm'),
);
export const stsSdk = lazyModule(
  () => require('@aws-sdk/client-sts') as typeof import('@aws-sdk/client-sts'),
);
export const lambdaSdk = lazyModule(
  () => require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda'),
);
export const dynamoDbSdk = lazyModule(
  () => require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb'),
);
/** DynamoDB's document client (plain JavaScript values in and out); it loads the DynamoDB client too. */
export const documentSdk = lazyModule(
  () => require('@aws-sdk/lib-dynamodb') as typeof import('@aws-sdk/lib-dynamodb'),
);
/** ELBv2 (Application/Network Load Balancers): read only, for a load balancer's scheme (exposure). */
export const elbv2Sdk = lazyModule(
  () =>
    require('@aws-sdk/client-elastic-load-balancing-v2') as typeof import('@aws-sdk/client-elastic-load-balancing-v2'),
);
/** EventBridge Scheduler: the backstop's one-time schedules (services/aws/scheduler-backstop.ts). */
export const schedulerSdk = lazyModule(
  () => require('@aws-sdk/client-scheduler') as typeof import('@aws-sdk/client-scheduler'),
);
