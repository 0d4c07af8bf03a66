import { principalName } from '../../../../services/detection/detect';

describe('principalName', () => {
  it.each([
    [
      'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/dev@example.com',
      'AWSReservedSSO_Admin_0123/dev@example.com',
    ],
    ['arn:aws:iam::123456789012:user/ops/alice', 'alice'],
    ['arn:aws:iam::123456789012:root', 'root'],
    ['arn:aws-us-gov:sts::123456789012:assumed-role/deploy/ci', 'deploy/ci'],
    ['cloudformation.amazonaws.com', 'cloudformation.amazonaws.com'],
  ])('names %s as %s', (arn, name) => {
    expect(principalName(arn)).toBe(name);
  });
});
