/**
 * The IAM simulation (`npm test` runs it after every other suite): it reads the AWS calls those suites
 * recorded (.cache/iam-calls/) and the packaged template (.serverless/), and starts no emulator.
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/iam/*.check.ts'],
  testTimeout: 120000,
};
