"""The AWS CDK constructs of Elastic Vision, one concern per module."""
