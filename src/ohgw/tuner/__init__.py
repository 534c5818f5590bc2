"""What runs in the tuner process: one replicate (replicate), its scheduler, budget, seeds,
workers and runtime, the trial backends and the fork server's client, reruns, the recorder."""
