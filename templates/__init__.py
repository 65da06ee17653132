"""Pure CloudFormation template building for cfn-strata: config in, troposphere templates out.

Nothing in this package performs I/O against AWS; the deployer package is the only one that does.
"""
