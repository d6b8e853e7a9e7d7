"""The ECS event stream: setting up an account's queues and rule, and the stream's
health (which decides whether the account's full sync polls or reconciles).
Applying the events to the mirror is ``deployments.stream``'s job."""
