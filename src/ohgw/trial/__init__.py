"""What runs in a trial process: the entry point (main), its Lightning callbacks (the
warm-start, the epoch reports and checkpoints, the hyperparameter log)."""
