"""The AWS adapter: the only package that imports boto3/botocore.

``session`` builds clients for an ``AwsAccount``; ``errors`` translates botocore
exceptions into typed ones; ``ecs`` is the read side of ECS (paginated listings and
batched describes returning the plain dataclasses of ``ecs_types``).
"""
