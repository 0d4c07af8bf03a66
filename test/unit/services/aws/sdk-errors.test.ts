import { awsError } from '../../../../services/aws/ec2-security-groups';
import { callMetadata } from '../../../../services/aws/sdk-errors';
import { AwsCallError } from '../../../../services/shared/errors';

describe('AWS call errors', () => {
  it('carry the HTTP status, tries and request ID the SDK saw, so nothing else reads its metadata', () => {
    const sdkError = Object.assign(new Error('not allowed'), {
      name: 'UnauthorizedOperation',
      $metadata: { httpStatusCode: 403, attempts: 2, requestId: 'req-1' },
    });
    const error = awsError('RevokeSecurityGroupIngress', sdkError);
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({
      awsCode: 'UnauthorizedOperation',
      requestId: 'req-1',
      httpStatus: 403,
      attempts: 2,
      message: 'RevokeSecurityGroupIngress failed: UnauthorizedOperation: not allowed',
    });
    expect(error.cause).toBe(sdkError);
  });

  it('leave the status unset when no answer came', () => {
    const timeout = Object.assign(new Error('socket hang up'), {
      name: 'TimeoutError',
      $metadata: { attempts: 3 },
    });
    expect(awsError('RevokeSecurityGroupIngress', timeout)).toMatchObject({
      httpStatus: undefined,
      attempts: 3,
    });
    expect(callMetadata(new Error('plain'))).toEqual({});
    expect(callMetadata(undefined)).toEqual({});
  });
});
