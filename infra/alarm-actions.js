// serverless.yml's `AlarmActions: ${file(infra/alarm-actions.js):actions}`: the SNS topic of the param
// `alarmTopicArn` as a one-item list, or an empty list when none is given (the alarms then only change
// state). A list computed here, rather than a CloudFormation condition on an empty param, keeps the
// template free of conditions that are always false.
module.exports = {
  actions: async ({ resolveVariable }) => {
    const arn = await resolveVariable('param:alarmTopicArn');
    if (!arn) return [];
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(arn)) {
      throw new Error(
        `alarmTopicArn "${arn}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`,
      );
    }
    return [arn];
  },
};
