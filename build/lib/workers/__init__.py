"""The way from an accepted reminder to a delivered one: jobs, queue, sweeper, channels."""
