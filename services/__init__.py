"""The four services. Each owns its MongoDB database and talks to the others only through Kafka."""
