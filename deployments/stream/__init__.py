"""Following the ECS event stream: ``apply`` writes a batch of events into the mirror
(with the sync's own writers), ``follow`` is the long-polling loop behind
``manage.py follow_events``. The queues themselves are ``clusters.stream``'s."""
