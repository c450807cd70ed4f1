"""The platform's published language: the CloudEvents envelope, every event's `data`, the topics.

Services import topics and event models from here and never spell a topic or a type string
themselves, so a reader can see the whole external contract of the event streams in one package.
"""
