"""The deployer: the only package that imports boto3/botocore. Upload, change sets, review,
execute, and the local emulator. Every function that calls AWS receives its clients."""
