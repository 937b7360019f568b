"""AWS adapters: pynamodb models, S3 facts, SQS and SNS. Clients are built lazily, once per container."""
