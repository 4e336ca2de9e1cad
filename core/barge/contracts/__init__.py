"""Job contracts: the argument, result and session types of the daemon's jobs.

The API routes (:mod:`barge.api`) build these and run jobs by name; the job
handlers (:mod:`barge.daemon.jobs`) take them and call the services. Both
import this package and neither imports the other, so a route never
reaches past a job into a service. Plain data and small protocols only:
nothing here imports a service, a store or a driver.
"""
